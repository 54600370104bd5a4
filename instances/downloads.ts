import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { paths } from "../lib/config";
import { NotFoundError, ValidationError } from "../lib/errors";
import { validateName } from "../lib/names";
import { exportInstance } from "./archive";

/**
 * Exports packed for a browser to fetch once. The dashboard's Export packs the archive as an
 * operation (its steps in the panel, errors as JSON), then the browser's own download manager
 * fetches the file: it streams to disk with its own progress bar, so a multi-GiB site never sits
 * in the page's memory. Files live under the data dir (same disk as the instance), are removed
 * once sent, and are swept after an hour when nobody fetched them.
 */
export const DOWNLOAD_TTL_MS = 60 * 60 * 1000;
const TOKEN_RE = /^[0-9a-f]{32}$/;

const dir = () => path.join(paths.cache(), "downloads");
const fileOf = (name: string, token: string) => path.join(dir(), `${name}.${token}.tar.gz`);

export function newDownloadToken(): string {
  return randomBytes(16).toString("hex");
}

/** How an archive is packed: a local instance's export, or (services/cluster) one read from its node. */
export type Packer = (name: string, file: string) => Promise<{ bytes: number }>;

/** Pack `name` for the download `token` (as the instance's export operation, which `pack` runs). */
export async function exportForDownload(name: string, token: string, pack: Packer = exportInstance): Promise<{ bytes: number }> {
  validateName(name);
  if (!TOKEN_RE.test(token)) throw new ValidationError("bad download token", "token");
  sweepDownloads();
  fs.mkdirSync(dir(), { recursive: true, mode: 0o700 });
  const { bytes } = await pack(name, fileOf(name, token));
  return { bytes };
}

/** The packed file for one fetch: its path and size; 404 for an unknown, spent or expired token. */
export function takeDownload(name: string, token: string): { file: string; bytes: number; filename: string } {
  validateName(name);
  if (!TOKEN_RE.test(token)) throw new NotFoundError("no such download");
  const file = fileOf(name, token);
  // lstat: a plain file of our own, never a link planted in its place.
  const st = fs.lstatSync(file, { throwIfNoEntry: false });
  if (!st?.isFile() || Date.now() - st.mtimeMs > DOWNLOAD_TTL_MS) throw new NotFoundError("no such download (each is fetched once, within an hour)");
  return { file, bytes: st.size, filename: `${name}.moodle-dind.tar.gz` };
}

/** Remove one download (after it was sent, or when the fetch broke off). */
export function dropDownload(file: string): void {
  fs.rmSync(file, { force: true });
}

/** Remove downloads nobody fetched within the hour. */
export function sweepDownloads(now = Date.now()): number {
  let removed = 0;
  if (!fs.existsSync(dir())) return 0;
  for (const f of fs.readdirSync(dir(), { withFileTypes: true }).filter((e) => e.isFile())) {
    const p = path.join(dir(), f.name);
    const st = fs.statSync(p, { throwIfNoEntry: false });
    if (st && now - st.mtimeMs > DOWNLOAD_TTL_MS) {
      fs.rmSync(p, { force: true });
      removed++;
    }
  }
  return removed;
}
