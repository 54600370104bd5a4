import fss, { constants as C } from "node:fs";
import fs, { type FileHandle } from "node:fs/promises";
import path from "node:path";
import { AppError } from "./errors";
import { run } from "./proc";

/**
 * Paths inside folders a container can write (moodledata, the code tree, the log folders): a
 * compromised container can put a symbolic link at any name in them, at any time, and an
 * open/mkdir/rename by name on the host would follow it out to the host's own files. Here every
 * segment below a trusted root is opened without following links, and folders are pinned by file
 * descriptor: on Linux /proc/<pid>/fd/<n> names the opened folder itself, whatever later happens to
 * the names above it (the openat() semantics Node lacks). Elsewhere (a macOS dev machine) the same
 * checks run on names, which stops planted links but not one swapped in mid-operation.
 */
const PROC_FD = fss.existsSync(`/proc/${process.pid}/fd`);
const O_DIRECTORY = C.O_DIRECTORY ?? 0;

export class LinkRefusedError extends AppError {
  constructor(what: string) {
    super("validation", `${what} is a symbolic link or not a plain folder/file; refusing to follow it`);
    this.name = "LinkRefusedError";
  }
}

/** A folder opened without following links; `path` keeps naming that very folder until close(). */
export interface PinnedDir {
  readonly path: string;
  close(): Promise<void>;
}

const refused = (e: unknown) => ["ELOOP", "ENOTDIR", "EMLINK"].includes((e as NodeJS.ErrnoException)?.code ?? "");

/** Open folder `p`; `follow` only for a trusted root (it may itself be a /proc fd link). */
async function pin(p: string, follow: boolean, what: string): Promise<PinnedDir> {
  let fh: FileHandle;
  try {
    fh = await fs.open(p, C.O_RDONLY | O_DIRECTORY | (follow ? 0 : C.O_NOFOLLOW));
  } catch (e) {
    if (refused(e)) throw new LinkRefusedError(what);
    throw e;
  }
  if (!(await fh.stat()).isDirectory()) {
    await fh.close();
    throw new LinkRefusedError(what);
  }
  if (!PROC_FD) {
    await fh.close();
    return { path: p, close: async () => undefined };
  }
  return { path: `/proc/${process.pid}/fd/${fh.fd}`, close: () => fh.close() };
}

function segments(rel: string): string[] {
  const segs = rel.split("/").filter((s) => s !== "" && s !== ".");
  if (segs.some((s) => s === "..")) throw new AppError("validation", `${JSON.stringify(rel)} climbs out of its folder`);
  return segs;
}

/**
 * Folder `rel` below the trusted `root`, opened segment by segment without following a link; with
 * `create`, missing segments are made (mode, owned by this process). Close it when done.
 */
export async function openDirInside(root: string, rel: string, opts: { create?: boolean; mode?: number } = {}): Promise<PinnedDir> {
  let cur = await pin(root, true, root);
  try {
    let shown = "";
    for (const seg of segments(rel)) {
      shown = shown ? `${shown}/${seg}` : seg;
      const next = path.join(cur.path, seg);
      if (opts.create) {
        await fs.mkdir(next, { mode: opts.mode ?? 0o755 }).catch((e: NodeJS.ErrnoException) => {
          if (e.code !== "EEXIST") throw e;
        });
      }
      const pinned = await pin(next, false, shown);
      await cur.close();
      cur = pinned;
    }
    return cur;
  } catch (e) {
    await cur.close();
    throw e;
  }
}

/** File `name` directly in a pinned folder: "r" reads, "wx" creates a new one; a link there is refused. */
export async function openFileIn(dir: PinnedDir, name: string, flags: "r" | "wx", mode = 0o644): Promise<FileHandle> {
  if (!name || name.includes("/") || name === "." || name === "..") throw new AppError("validation", `${JSON.stringify(name)} is not a file name`);
  const f = flags === "r" ? C.O_RDONLY : C.O_WRONLY | C.O_CREAT | C.O_EXCL;
  let fh: FileHandle;
  try {
    fh = await fs.open(path.join(dir.path, name), f | C.O_NOFOLLOW, mode);
  } catch (e) {
    if (refused(e)) throw new LinkRefusedError(name);
    throw e;
  }
  if (!(await fh.stat()).isFile()) {
    await fh.close();
    throw new LinkRefusedError(name);
  }
  return fh;
}

/** A file below a trusted root: its folders walked without links, the file itself opened the same way. */
export async function openFileInside(root: string, rel: string, flags: "r" | "wx", mode = 0o644): Promise<FileHandle> {
  const segs = segments(rel);
  const name = segs.pop();
  if (!name) throw new AppError("validation", `${JSON.stringify(rel)} names no file`);
  const dir = await openDirInside(root, segs.join("/"), { create: flags === "wx" });
  try {
    return await openFileIn(dir, name, flags, mode);
  } finally {
    await dir.close();
  }
}

/**
 * Remove `name` (a file or a whole tree) from a pinned folder. coreutils rm walks the tree with
 * openat/unlinkat and never follows a link, even one swapped in while it runs; Node's fs.rm walks
 * by name and can be led out of the tree. The /proc path is per process, so the child gets ours.
 */
export async function removeIn(dir: PinnedDir, name: string): Promise<void> {
  if (!name || name.includes("/") || name === "." || name === "..") throw new AppError("validation", `${JSON.stringify(name)} is not a file name`);
  await run("rm", ["-rf", "--", path.join(dir.path, name)]);
}
