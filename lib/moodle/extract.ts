import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { extract as tarExtract } from "tar-stream";
import { checkArchiveEntry } from "../archive-entry";
import { extractZipSafe } from "../blueprint/zip";
import { ValidationError } from "../errors";
import { findMoodleRoot } from "./version";

/**
 * Unpack a Moodle package (.tgz, .tar.gz or .zip) from anywhere — an upload, a mirror, a user's
 * folder — under hostile-archive rules: every entry is checked before it is written (lib/archive-entry:
 * no "..", nothing absolute, no links of any kind, no devices or fifos), entry count and total size
 * are capped (archive bombs), files are created exclusively (never through something already there).
 * Streamed: a 100 MB package never sits in memory.
 */
export interface ExtractLimits {
  maxEntries: number;
  /** Sum of the entries' sizes. */
  maxBytes: number;
  maxEntryBytes: number;
}

export interface ExtractProgress {
  /** Archive bytes read so far, of `total`. */
  bytes: number;
  total: number;
  entries: number;
}

/**
 * Moodle 5.0 with its vendor/ is ~60k entries and ~600 MB unpacked; the defaults leave room for
 * growth and stop bombs. MDIND_MOODLE_MAX_ENTRIES / MDIND_MOODLE_MAX_BYTES override them.
 */
export function defaultLimits(): ExtractLimits {
  const env = (k: string, def: number) => {
    const n = Number(process.env[k]);
    return Number.isSafeInteger(n) && n > 0 ? n : def;
  };
  const maxBytes = env("MDIND_MOODLE_MAX_BYTES", 4 * 1024 ** 3);
  return { maxEntries: env("MDIND_MOODLE_MAX_ENTRIES", 250_000), maxBytes, maxEntryBytes: Math.min(maxBytes, 512 * 1024 ** 2) };
}

export type ArchiveKind = "tgz" | "zip";

export function archiveKind(file: string): ArchiveKind | null {
  if (/\.(tgz|tar\.gz)$/i.test(file)) return "tgz";
  if (/\.zip$/i.test(file)) return "zip";
  return null;
}

/**
 * Unpack `file` into `dest` (created; must not exist) and return the Moodle root inside it.
 * On any failure `dest` is removed: a refused archive leaves nothing behind.
 */
export async function extractArchive(
  file: string,
  dest: string,
  opts: { limits?: Partial<ExtractLimits>; onProgress?: (p: ExtractProgress) => void } = {},
): Promise<{ root: string; entries: number; bytes: number }> {
  const kind = archiveKind(file);
  if (!kind) throw new ValidationError(`${path.basename(file)}: a Moodle package must be a .tgz, .tar.gz or .zip`, "archive");
  const limits = { ...defaultLimits(), ...opts.limits };
  await fsp.mkdir(dest);
  try {
    const counted = kind === "zip" ? await unzip(file, dest, limits, opts.onProgress) : await untar(file, dest, limits, opts.onProgress);
    return { root: await findMoodleRoot(dest), ...counted };
  } catch (e) {
    await fsp.rm(dest, { recursive: true, force: true });
    throw e;
  }
}

async function unzip(file: string, dest: string, limits: ExtractLimits, onProgress?: (p: ExtractProgress) => void) {
  const total = (await fsp.stat(file)).size;
  // lib/blueprint/zip.ts already reads ZIPs under the same rules (central directory checked first).
  const r = await extractZipSafe(file, dest, { maxBytes: limits.maxBytes, maxEntries: limits.maxEntries });
  onProgress?.({ bytes: total, total, entries: r.files.length });
  return { entries: r.files.length, bytes: r.bytes };
}

async function untar(file: string, dest: string, limits: ExtractLimits, onProgress?: (p: ExtractProgress) => void) {
  const total = (await fsp.stat(file)).size;
  const root = path.resolve(dest);
  let read = 0;
  let entries = 0;
  let bytes = 0;
  let lastEmit = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
      read += chunk.length;
      const now = Date.now();
      if (onProgress && now - lastEmit >= 250) {
        lastEmit = now;
        onProgress({ bytes: read, total, entries });
      }
      cb(null, chunk);
    },
  });
  const ex = tarExtract();
  ex.on("entry", (header, stream, next) => {
    (async () => {
      const rel = checkArchiveEntry(header, limits.maxEntryBytes);
      entries += 1;
      bytes += header.size ?? 0;
      if (entries > limits.maxEntries) throw new ValidationError(`archive has more than ${limits.maxEntries} entries (limit)`, "archive");
      if (bytes > limits.maxBytes) throw new ValidationError(`archive unpacks to more than ${limits.maxBytes} bytes (limit)`, "archive");
      const target = path.resolve(root, rel);
      if (!target.startsWith(root + path.sep)) throw new ValidationError(`archive entry '${rel.slice(0, 80)}' escapes the archive`, "archive");
      if (header.type === "directory") {
        await fsp.mkdir(target, { recursive: true, mode: 0o755 });
        stream.resume();
        return;
      }
      await fsp.mkdir(path.dirname(target), { recursive: true, mode: 0o755 });
      // Readable by www-data whatever the archive says; execute bits kept, nothing writable by others.
      const mode = 0o644 | ((header.mode ?? 0) & 0o111);
      // wx: never follow or overwrite something already there (a duplicate entry).
      await pipeline(stream, fs.createWriteStream(target, { flags: "wx", mode })).catch((e: NodeJS.ErrnoException) => {
        throw e.code === "EEXIST" ? new ValidationError(`archive entry '${rel.slice(0, 80)}' appears twice`, "archive") : e;
      });
    })().then(() => next(), (e: unknown) => {
      stream.resume();
      ex.destroy(e as Error);
    });
  });
  try {
    await pipeline(fs.createReadStream(file), meter, createGunzip(), ex);
  } catch (e) {
    // Disk errors (ENOSPC …) stay what they are; anything else is the archive's fault.
    if (e instanceof ValidationError || (e as NodeJS.ErrnoException).syscall) throw e;
    throw new ValidationError(`${path.basename(file)} is not a readable gzip tar archive (${(e as Error).message})`, "archive");
  }
  onProgress?.({ bytes: read, total, entries });
  return { entries, bytes };
}
