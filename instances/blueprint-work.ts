import fs from "node:fs/promises";
import path from "node:path";
import { LinkRefusedError, openDirInside, openFileIn, removeIn, type PinnedDir } from "../lib/nofollow";
import { run } from "../lib/proc";

/**
 * The host side of a blueprint run touches two folders the instance's containers can write: its
 * scratch folder in moodledata and the plugin folders in the code tree. A compromised container
 * could plant links there to send the dashboard's reads and writes to host files, so both are
 * reached only through lib/nofollow: folders opened without following links and pinned by
 * descriptor, files created exclusively and never through a link.
 */
export const WORK_DIR = ".mdind-blueprint";
const WWW = 33;

/**
 * moodledata/.mdind-blueprint/<id>: made and owned by the dashboard (0755, the container reads it
 * but cannot add to it), reached through a pinned path for the whole run, removed at its end.
 */
export class BlueprintWorkDir {
  private constructor(
    private readonly base: PinnedDir,
    private readonly dir: PinnedDir,
    private readonly id: string,
  ) {}

  static async open(moodledata: string, id: string): Promise<BlueprintWorkDir> {
    const base = await openDirInside(moodledata, WORK_DIR, { create: true, mode: 0o755 });
    try {
      // The shared folder stays the container user's, as everything else in moodledata.
      await fs.chown(base.path, WWW, WWW).catch(() => undefined);
      await fs.mkdir(path.join(base.path, id), { mode: 0o755 });
      return new BlueprintWorkDir(base, await openDirInside(base.path, id), id);
    } catch (e) {
      await base.close();
      throw e;
    }
  }

  /** The run folder's pinned host path (valid until close()). */
  get path(): string {
    return this.dir.path;
  }

  /** A new file in the run folder (never over something already there); returns its pinned host path. */
  async writeFile(name: string, bytes: Buffer | string, opts: { mode?: number; www?: boolean } = {}): Promise<string> {
    const fh = await openFileIn(this.dir, name, "wx", opts.mode ?? 0o644);
    try {
      await fh.writeFile(bytes);
      if (opts.www) await fh.chown(WWW, WWW).catch(() => undefined);
    } finally {
      await fh.close();
    }
    return path.join(this.dir.path, name);
  }

  /** A new folder in the run folder, owned by the dashboard; returns its pinned host path. */
  async mkdir(name: string): Promise<string> {
    await fs.mkdir(path.join(this.dir.path, name), { mode: 0o755 });
    return path.join(this.dir.path, name);
  }

  async remove(name: string): Promise<void> {
    await removeIn(this.dir, name);
  }

  /** Remove the run folder and let go of it. */
  async close(): Promise<void> {
    await this.dir.close();
    await removeIn(this.base, this.id).catch(() => undefined);
    await this.base.close();
  }
}

/**
 * An installed plugin's folder in the code tree, pinned: "missing" when nothing is there, "link"
 * when a link (or something not a folder) is in its place or on the way to it.
 */
export async function openPluginDir(codeRoot: string, rel: string): Promise<PinnedDir | "missing" | "link"> {
  try {
    return await openDirInside(codeRoot, rel);
  } catch (e) {
    if (e instanceof LinkRefusedError) return "link";
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw e;
  }
}

/** Hand a pinned tree to the container user; -H enters the pinned folder itself, no link below it is followed. */
export async function chownTreeWww(dir: PinnedDir): Promise<void> {
  await run("chown", ["-R", "-H", `${WWW}:${WWW}`, dir.path]);
}

/**
 * Same relative files with the same bytes (plugins are small; reading both is cheaper than
 * guessing). A link anywhere in either tree makes them differ: it is never followed.
 */
export async function sameTree(a: string, b: string): Promise<boolean> {
  const list = async (root: string): Promise<string[] | null> => {
    const out: string[] = [];
    const walk = async (rel: string): Promise<boolean> => {
      for (const d of await fs.readdir(path.join(root, rel), { withFileTypes: true })) {
        const r = rel ? `${rel}/${d.name}` : d.name;
        if (d.isDirectory()) {
          if (!(await walk(r))) return false;
        } else if (d.isFile()) out.push(r);
        else return false;
      }
      return true;
    };
    return (await walk("")) ? out.sort() : null;
  };
  const [la, lb] = await Promise.all([list(a), list(b)]);
  if (!la || !lb || la.length !== lb.length || la.some((f, i) => f !== lb[i])) return false;
  const read = async (root: string, rel: string) => {
    const dir = await openDirInside(root, path.posix.dirname(rel));
    try {
      const fh = await openFileIn(dir, path.posix.basename(rel), "r");
      try {
        return await fh.readFile();
      } finally {
        await fh.close();
      }
    } finally {
      await dir.close();
    }
  };
  for (const f of la) {
    const [x, y] = await Promise.all([read(a, f), read(b, f)]);
    if (!x.equals(y)) return false;
  }
  return true;
}
