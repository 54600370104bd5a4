import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { docker, LABEL } from "../docker";
import { engineError } from "../errors";
import type { Progress } from "./base";
import { entryHash } from "./build";
import { CATALOG, imageRef, imageRepo, type ImageKind, type Suite } from "./catalog";

export interface ImageRow {
  kind: ImageKind;
  version: string;
  suite: Suite;
  ref: string;
  /** The image exists in the engine (built here or loaded from a tar). */
  present: boolean;
  /** Its recipe label matches the current recipe; false means `images build` would rebuild it. */
  upToDate: boolean;
  /** Exact upstream version tag (8.2.29), when the image has one. */
  exact?: string;
  tags: string[];
  sizeBytes?: number;
  created?: string;
  id?: string;
}

export async function listImages(): Promise<ImageRow[]> {
  const rows: ImageRow[] = [];
  for (const e of CATALOG) {
    const ref = imageRef(e.kind, e.version);
    const row: ImageRow = { kind: e.kind, version: e.version, suite: e.suite, ref, present: false, upToDate: false, tags: [] };
    try {
      const info = await docker().getImage(ref).inspect();
      const repo = imageRepo(e.kind);
      row.present = true;
      row.id = info.Id;
      row.tags = info.RepoTags ?? [];
      row.sizeBytes = info.Size;
      row.created = info.Created;
      row.upToDate = info.Config?.Labels?.[LABEL.recipe] === (await entryHash(e));
      row.exact = row.tags
        .filter((t) => t.startsWith(`${repo}:${e.version}.`))
        .map((t) => t.slice(repo.length + 1))
        .sort()
        .pop();
    } catch (err) {
      if ((err as { statusCode?: number }).statusCode !== 404) throw engineError(`inspect ${ref}`, err);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Write every present catalog image to `<dir>/<kind>-<version>.tar` (for `docker load` on another
 * machine or the DinD host). All of an image's tags go into its tar, so exact/major tags survive the trip.
 * Written to .partial and renamed, so a reader never sees a truncated tar under the final name.
 */
export async function saveImages(dir: string, onProgress: Progress = () => {}): Promise<string[]> {
  await fs.mkdir(dir, { recursive: true });
  const written: string[] = [];
  for (const row of await listImages()) {
    if (!row.present) continue;
    const file = path.join(dir, `${row.kind}-${row.version}.tar`);
    const partial = `${file}.partial`;
    const names = row.tags.filter((t) => t.startsWith(`${imageRepo(row.kind)}:`));
    onProgress(`saving ${row.ref} → ${file}`);
    try {
      // getImages (GET /images/get?names=…) exists in dockerode but not in its type definitions.
      const getImages = (docker() as unknown as { getImages(o: { names: string[] }): Promise<NodeJS.ReadableStream> }).getImages;
      const stream = await getImages.call(docker(), { names: names.length ? names : [row.ref] });
      await pipeline(stream, createWriteStream(partial));
      await fs.rename(partial, file);
    } catch (e) {
      await fs.rm(partial, { force: true });
      throw engineError(`save ${row.ref}`, e);
    }
    const { size } = await fs.stat(file);
    onProgress(`saved ${path.basename(file)} (${(size / 1e6).toFixed(0)} MB)`);
    written.push(file);
  }
  return written;
}

/**
 * "kind:version" of every catalog image on the engine: one list call, so the create form and
 * create's defaults can prefer what needs no build. An engine that does not answer yields none.
 */
export async function presentImages(): Promise<Set<string>> {
  const out = new Set<string>();
  const images = await docker().listImages().catch(() => []);
  const tags = new Set(images.flatMap((i) => i.RepoTags ?? []));
  for (const e of CATALOG) if (tags.has(imageRef(e.kind, e.version))) out.add(`${e.kind}:${e.version}`);
  return out;
}
