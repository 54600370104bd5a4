import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import lockfile from "proper-lockfile";
import { ConflictError } from "./errors";

/**
 * Two layers: an in-process promise chain (cheap, keeps one process orderly) and a lock file via
 * proper-lockfile, so the CLI and the dashboard — separate processes — never allocate at once.
 */
const chains = new Map<string, Promise<unknown>>();

/** Another process holds the lock (only with `wait: false`, or after the retries ran out). */
export class LockBusyError extends ConflictError {}

/** True while a withFileLock call of this process holds or waits for that lock file. */
export const lockBusyHere = (file: string): boolean => chains.has(file);

/**
 * `stale`: how long a holder may miss its mtime refresh (every 5 s) before others may take the lock;
 * raise it for locks held for minutes on a busy machine. A lock found compromised (another process
 * took it as stale) is reported as a warning instead of proper-lockfile's default, which throws
 * from a timer and would end the whole process.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, opts: { wait?: boolean; stale?: number } = {}): Promise<T> {
  const prev = chains.get(file) ?? Promise.resolve();
  let release!: () => void;
  const mine = new Promise<void>((r) => (release = r));
  const chained = prev.then(() => mine);
  chains.set(file, chained);
  await prev.catch(() => undefined);
  try {
    await fs.mkdir(path.dirname(file), { recursive: true });
    await fs.writeFile(file, "", { flag: "a" });
    let unlock: () => Promise<void>;
    try {
      unlock = await lockfile.lock(file, {
        realpath: false,
        stale: opts.stale ?? 15_000,
        update: 5_000,
        retries: opts.wait === false ? 0 : { retries: 200, minTimeout: 25, maxTimeout: 250 },
        onCompromised: (err) => process.emitWarning(`lock ${path.basename(file)} was compromised: ${err.message}`),
      });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ELOCKED") throw new LockBusyError(`${path.basename(file)} is locked by another process`);
      throw e;
    }
    try {
      return await fn();
    } finally {
      await unlock().catch(() => undefined);
    }
  } finally {
    release();
    if (chains.get(file) === chained) chains.delete(file);
  }
}

/** Write a file atomically (temp + rename) so a crash never leaves half a JSON document. */
/**
 * Replace `file` with `data` so a crash at any point leaves either the old content or the new:
 * the temp file's data reaches the disk (fsync) before the rename makes it the file, and the
 * directory is synced after so the rename itself survives a power loss.
 */
export async function writeFileAtomic(file: string, data: string, mode = 0o644): Promise<void> {
  const dir = path.dirname(file);
  await fs.mkdir(dir, { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    // "wx": a fresh file of our own, never something already at that name (or a link planted there).
    const fh = await fs.open(tmp, "wx", mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, file);
  } catch (e) {
    // A full disk leaves a truncated temp file: remove it so a failed write leaves nothing behind.
    await fs.rm(tmp, { force: true }).catch(() => undefined);
    throw e;
  }
  await syncDir(dir);
}

/** fsync a directory; some filesystems and platforms refuse it, and then there is nothing more to do. */
async function syncDir(dir: string): Promise<void> {
  const dh = await fs.open(dir, "r").catch(() => null);
  if (!dh) return;
  await dh.sync().catch(() => undefined);
  await dh.close().catch(() => undefined);
}

export async function readJson<T>(file: string, fallback: T): Promise<T> {
  try {
    return JSON.parse(await fs.readFile(file, "utf8")) as T;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return fallback;
    throw e;
  }
}
