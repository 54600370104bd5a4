import { createWriteStream } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { docker } from "../docker";
import { engineError } from "../errors";
import { imageRef, imageRepo } from "../images/catalog";
import { configId, readTarManifest } from "../images/preload";

/**
 * Keep shared-images/<kind>-<version>.tar in step with the outer engine's images, so the inner
 * engine can preload them with no registry. A tar whose image id already matches is left alone
 * (checked from its tar headers only); a missing or stale one is written to .partial and renamed,
 * so the host never preloads half a file. Same file names as `moodle-dind images save`.
 */
export interface Want {
  kind: string;
  version: string;
}

export async function syncSharedImages(dir: string, wants: Want[], log: (l: string) => void): Promise<{ written: string[]; current: string[] }> {
  await fs.mkdir(dir, { recursive: true });
  const written: string[] = [];
  const current: string[] = [];
  for (const w of wants) {
    const ref = imageRef(w.kind, w.version);
    let info;
    try {
      info = await docker().getImage(ref).inspect();
    } catch (e) {
      throw engineError(`inspect ${ref}`, e);
    }
    const file = path.join(dir, `${w.kind}-${w.version}.tar`);
    const manifest = await readTarManifest(file).catch(() => null);
    if (manifest?.some((m) => (m.RepoTags ?? []).includes(ref) && configId(m) === info.Id)) {
      current.push(file);
      continue;
    }
    const names = (info.RepoTags ?? []).filter((t) => t.startsWith(`${imageRepo(w.kind)}:`));
    const partial = `${file}.partial`;
    const started = Date.now();
    log(`saving ${ref} → ${path.relative(process.cwd(), file) || file}`);
    try {
      // GET /images/get?names=… (docker save); dockerode has it but not in its type definitions.
      const getImages = (docker() as unknown as { getImages(o: { names: string[] }): Promise<NodeJS.ReadableStream> }).getImages;
      await pipeline(await getImages.call(docker(), { names: names.length ? names : [ref] }), createWriteStream(partial));
      await fs.rename(partial, file);
    } catch (e) {
      await fs.rm(partial, { force: true });
      throw engineError(`save ${ref}`, e);
    }
    const { size } = await fs.stat(file);
    log(`saved ${path.basename(file)} (${(size / 1e6).toFixed(0)} MB in ${((Date.now() - started) / 1000).toFixed(0)} s)`);
    written.push(file);
  }
  return { written, current };
}
