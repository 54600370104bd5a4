import fs from "node:fs/promises";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { paths } from "../lib/config";
import { run } from "../lib/proc";
import { withFileLock } from "../lib/lock";
import { ConflictError } from "../lib/errors";

/**
 * Spare code trees. Hard-linking Moodle's 30k files and 10k folders costs ~2 s of kernel time on
 * 2 cores, the largest single step of a create from a template. So after a create has used a
 * cached source, one linked copy of that source is made ahead of time; the next create of the same
 * source renames it into place, which is instant. A spare is exactly what copyCode would have made
 * (links to the read-only cache, folders owned by www-data), so taking one changes nothing else.
 *
 * Layout: cache/spares/<source tree>/<uuid> when whole, .<uuid>.partial while being made. A rename
 * is atomic, so two creates never take the same spare; a crash leaves at worst a .partial, which the
 * next replenish removes. MDIND_CODE_SPARES=0 turns the whole mechanism off.
 */
// Library trees are all named .../<build id>/tree: the build id names their spares.
const sparesDir = (src: string) =>
  path.join(paths.cache(), "spares", path.basename(src) === "tree" ? path.basename(path.dirname(src)) : path.basename(src));
const enabled = () => process.env.MDIND_CODE_SPARES !== "0";
const pending = new Set<Promise<void>>();
let replenishing = false;

/**
 * Only a long-lived process (the dashboard, a benchmark) makes spares. A CLI process would have to
 * stay alive the ~2 s a spare takes after printing its result; it still takes the ones made here.
 */
export function keepSparesReady(on = true): void {
  replenishing = on;
}

/** Move a ready spare of `src` to `dest` (which must not exist, or be an empty folder). */
export async function takeSpare(src: string, dest: string): Promise<boolean> {
  if (!enabled()) return false;
  const dir = sparesDir(src);
  const ready = (await fs.readdir(dir).catch(() => [] as string[])).filter((e) => !e.startsWith("."));
  await fs.rmdir(dest).catch(() => undefined);
  for (const e of ready) {
    try {
      await fs.rename(path.join(dir, e), dest);
      return true;
    } catch {
      // Taken by another create a moment ago, or dest is not empty: try the next, then give up.
    }
  }
  await fs.mkdir(dest, { recursive: true });
  return false;
}

async function makeSpare(src: string): Promise<void> {
  const dir = sparesDir(src);
  await fs.mkdir(dir, { recursive: true });
  const entries = await fs.readdir(dir);
  if (entries.some((e) => !e.startsWith("."))) return;
  // Under the lock, any .partial is a dead process's leftover.
  for (const e of entries) await fs.rm(path.join(dir, e), { recursive: true, force: true });
  const id = randomUUID();
  const tmp = path.join(dir, `.${id}.partial`);
  await fs.mkdir(tmp);
  try {
    await run("cp", ["-al", `${src}/.`, tmp]);
    await fs.rm(path.join(tmp, ".complete"), { force: true });
    await run("find", [tmp, "-type", "d", "-exec", "chown", "33:33", "{}", "+"]);
    await fs.rename(tmp, path.join(dir, id));
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
}

/**
 * Make one spare of `src` in the background, unless one is ready or being made.
 * Failures only cost the next create its head start, so they are reported to `onError`, not thrown.
 */
export function replenishSpare(src: string, onError: (e: unknown) => void = () => undefined): void {
  if (!enabled() || !replenishing) return;
  // Another process holding the lock is making the spare already: nothing to do.
  const p: Promise<void> = withFileLock(`${sparesDir(src)}.lock`, () => makeSpare(src), { wait: false })
    .catch((e) => (e instanceof ConflictError ? undefined : onError(e)))
    .finally(() => pending.delete(p));
  pending.add(p);
}

/** Wait for spares being made (before a data folder is removed, or a benchmark measures). */
export async function settleSpares(): Promise<void> {
  while (pending.size) await Promise.all([...pending]);
}

/** Remove the spares of a source that is going away (a removed library build): they pin its files. */
export async function dropSpares(src: string): Promise<void> {
  await fs.rm(sparesDir(src), { recursive: true, force: true });
  await fs.rm(`${sparesDir(src)}.lock`, { force: true });
}
