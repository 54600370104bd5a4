import type { Progress } from "./base";
import { buildImage, type BuildResult } from "./build";
import { CATALOG, isKind, parseSpec, type CatalogEntry } from "./catalog";
import { listImages, saveImages, type ImageRow } from "./list";
import { AppError, ValidationError } from "../errors";

/**
 * Entry points for `moodle-dind images …`. Specs: "php:8.2", "postgres:15", a bare kind ("php": all
 * its versions) or "all" (the whole catalog).
 */
export function resolveSpecs(specs: string[]): CatalogEntry[] {
  if (specs.length === 0) throw new ValidationError("Name an image (php:8.2), a kind (php) or all", "image");
  const out = new Map<string, CatalogEntry>();
  for (const spec of specs) {
    const s = spec.trim();
    const matched = s === "all" ? [...CATALOG] : isKind(s) ? CATALOG.filter((e) => e.kind === s) : [parseSpec(s)];
    for (const e of matched) out.set(`${e.kind}:${e.version}`, e);
  }
  return [...out.values()];
}

export async function imagesBuild(
  specs: string[],
  onProgress: Progress = () => {},
  opts: { force?: boolean } = {},
): Promise<BuildResult[]> {
  const results: BuildResult[] = [];
  const failed: { spec: string; error: unknown }[] = [];
  // One at a time: builds are CPU and mirror bound, and parallel apt runs only slow each other down.
  for (const e of resolveSpecs(specs)) {
    try {
      results.push(await buildImage(e.kind, e.version, { onProgress, force: opts.force }));
    } catch (error) {
      // Keep going: one broken version (a mirror hiccup) should not stop "all" from building the rest.
      onProgress(`FAILED ${e.kind}:${e.version}: ${error instanceof Error ? error.message : String(error)}`);
      failed.push({ spec: `${e.kind}:${e.version}`, error });
    }
  }
  if (failed.length === 1 && results.length === 0) throw failed[0].error;
  if (failed.length > 0) {
    const first = failed[0].error;
    throw new AppError(
      first instanceof AppError ? first.kind : "internal",
      `${failed.length} image(s) failed to build: ${failed.map((f) => f.spec).join(", ")} (details above)`,
      { step: "images", cause: first },
    );
  }
  return results;
}

export function imagesList(): Promise<ImageRow[]> {
  return listImages();
}

export function imagesSave(dir: string, onProgress: Progress = () => {}): Promise<string[]> {
  return saveImages(dir, onProgress);
}

export type { BuildResult, ImageRow, Progress };
