import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { ValidationError } from "../errors";
import { LinkRefusedError, openDirInside, openFileIn, openFileInside, removeIn, type PinnedDir } from "../nofollow";
import type { SitePath, SiteRoot } from "./steps";
import { MACOSX_DIR, openZipChecked, DEFAULT_ZIP_LIMITS } from "./zip";

/**
 * The file steps (mkdir, rmdir, writeFile(s), copyFile, moveFile, deleteFile, unzip) on the host, inside
 * an instance's moodledata or code tree. Both trees are writable by the instance's own PHP, which could
 * plant links in them, so every path is walked with lib/nofollow: no segment and no file is ever reached
 * through a link (a link met on the way is refused by name), files are replaced by rename in a pinned
 * folder (which replaces a link itself, never its target), and trees are removed with rm, which never
 * follows links. Each operation is idempotent and says whether it changed anything.
 */

export interface SiteRoots {
  moodledata: string;
  code: string;
  /** uid/gid given to what the steps create, so the site can read and write it (www-data in the app image). */
  owner?: { uid: number; gid: number };
}

export interface FileOutcome {
  changed: boolean;
  detail: string;
}

const show = (p: SitePath) => `${p.root === "code" ? "/www/moodle" : "/persist/moodledata"}/${p.rel}`;

function split(rel: string): { dir: string; name: string } {
  const i = rel.lastIndexOf("/");
  return i < 0 ? { dir: "", name: rel } : { dir: rel.slice(0, i), name: rel.slice(i + 1) };
}

function linkError(p: SitePath, e: unknown): never {
  if (e instanceof LinkRefusedError) throw new ValidationError(`${show(p)}: ${e.message}`);
  throw e;
}

async function own(roots: SiteRoots, p: string): Promise<void> {
  if (roots.owner) await fs.lchown(p, roots.owner.uid, roots.owner.gid).catch(() => undefined);
}

/** Folder `rel` in a root, made segment by segment (each new one given to the site) and pinned. */
async function ensureDir(roots: SiteRoots, root: SiteRoot, rel: string): Promise<{ dir: PinnedDir; created: boolean }> {
  let cur = await openDirInside(roots[root], "");
  let created = false;
  try {
    for (const seg of rel.split("/").filter(Boolean)) {
      const next = path.join(cur.path, seg);
      try {
        await fs.mkdir(next, { mode: 0o755 });
        created = true;
        await own(roots, next);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      }
      const pinned = await openDirInside(cur.path, seg);
      await cur.close();
      cur = pinned;
    }
    return { dir: cur, created };
  } catch (e) {
    await cur.close();
    throw e;
  }
}

/** The parent folder of a path, pinned, or null when it does not exist. */
async function openParent(roots: SiteRoots, p: SitePath): Promise<PinnedDir | null> {
  try {
    return await openDirInside(roots[p.root], split(p.rel).dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    return linkError(p, e);
  }
}

type Kind = "missing" | "file" | "dir" | "link" | "other";
async function kindIn(dir: PinnedDir, name: string): Promise<Kind> {
  try {
    const st = await fs.lstat(path.join(dir.path, name));
    return st.isSymbolicLink() ? "link" : st.isFile() ? "file" : st.isDirectory() ? "dir" : "other";
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return "missing";
    throw e;
  }
}

async function readIn(dir: PinnedDir, name: string): Promise<Buffer> {
  const fh = await openFileIn(dir, name, "r");
  try {
    return await fh.readFile();
  } finally {
    await fh.close();
  }
}

export async function writeSiteFile(roots: SiteRoots, p: SitePath, bytes: Buffer): Promise<FileOutcome> {
  const { dir: parentRel, name } = split(p.rel);
  const { dir } = await ensureDir(roots, p.root, parentRel).catch((e: unknown) => linkError(p, e));
  try {
    const kind = await kindIn(dir, name);
    if (kind === "link") throw new ValidationError(`${show(p)} is a symbolic link; refusing to write through it`);
    if (kind === "dir" || kind === "other") throw new ValidationError(`${show(p)} is a folder or special file, not a file`);
    if (kind === "file" && (await readIn(dir, name)).equals(bytes)) return { changed: false, detail: `${show(p)} already has this content` };
    const tmp = `.mdind-tmp-${randomBytes(6).toString("hex")}`;
    const fh = await openFileIn(dir, tmp, "wx", 0o644);
    try {
      await fh.writeFile(bytes);
      if (roots.owner) await fh.chown(roots.owner.uid, roots.owner.gid).catch(() => undefined);
    } finally {
      await fh.close();
    }
    // rename in the pinned folder replaces the directory entry itself: a link swapped in meanwhile is replaced, not followed.
    await fs.rename(path.join(dir.path, tmp), path.join(dir.path, name)).catch(async (e: unknown) => {
      await fs.unlink(path.join(dir.path, tmp)).catch(() => undefined);
      throw e;
    });
    return { changed: true, detail: `wrote ${show(p)} (${bytes.length} bytes)` };
  } finally {
    await dir.close();
  }
}

export async function makeSiteDir(roots: SiteRoots, p: SitePath): Promise<FileOutcome> {
  const { dir, created } = await ensureDir(roots, p.root, p.rel).catch((e: unknown) => linkError(p, e));
  await dir.close();
  return created ? { changed: true, detail: `made ${show(p)}` } : { changed: false, detail: `${show(p)} exists` };
}

export async function removeSiteDir(roots: SiteRoots, p: SitePath, recursive: boolean): Promise<FileOutcome> {
  const parent = await openParent(roots, p);
  if (!parent) return { changed: false, detail: `${show(p)} is already absent` };
  try {
    const { name } = split(p.rel);
    const kind = await kindIn(parent, name);
    if (kind === "missing") return { changed: false, detail: `${show(p)} is already absent` };
    if (kind === "link") throw new ValidationError(`${show(p)} is a symbolic link, not a folder; refusing`);
    if (kind !== "dir") throw new ValidationError(`${show(p)} is not a folder (use deleteFile for a file)`);
    if (!recursive && (await fs.readdir(path.join(parent.path, name))).length > 0) {
      throw new ValidationError(`${show(p)} is not empty; set "recursive": true to remove it with its contents`);
    }
    await removeIn(parent, name);
    return { changed: true, detail: `removed ${show(p)}` };
  } finally {
    await parent.close();
  }
}

export async function deleteSiteFile(roots: SiteRoots, p: SitePath): Promise<FileOutcome> {
  const parent = await openParent(roots, p);
  if (!parent) return { changed: false, detail: `${show(p)} is already absent` };
  try {
    const { name } = split(p.rel);
    const kind = await kindIn(parent, name);
    if (kind === "missing") return { changed: false, detail: `${show(p)} is already absent` };
    if (kind === "link") throw new ValidationError(`${show(p)} is a symbolic link; refusing`);
    if (kind !== "file") throw new ValidationError(`${show(p)} is not a file (use rmdir for a folder)`);
    await fs.unlink(path.join(parent.path, name));
    return { changed: true, detail: `deleted ${show(p)}` };
  } finally {
    await parent.close();
  }
}

async function readSiteFile(roots: SiteRoots, p: SitePath): Promise<Buffer | null> {
  try {
    const fh = await openFileInside(roots[p.root], p.rel, "r");
    try {
      return await fh.readFile();
    } finally {
      await fh.close();
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    return linkError(p, e);
  }
}

export async function copySiteFile(roots: SiteRoots, from: SitePath, to: SitePath): Promise<FileOutcome> {
  const bytes = await readSiteFile(roots, from);
  if (!bytes) throw new ValidationError(`${show(from)} does not exist`);
  const out = await writeSiteFile(roots, to, bytes);
  return out.changed ? { changed: true, detail: `copied ${show(from)} to ${show(to)}` } : { changed: false, detail: `${show(to)} already is a copy of ${show(from)}` };
}

export async function moveSiteFile(roots: SiteRoots, from: SitePath, to: SitePath): Promise<FileOutcome> {
  const bytes = await readSiteFile(roots, from);
  if (!bytes) {
    // Moved by an earlier run: the source is gone and the target is there.
    if (await readSiteFile(roots, to)) return { changed: false, detail: `${show(from)} was already moved to ${show(to)}` };
    throw new ValidationError(`${show(from)} does not exist`);
  }
  await writeSiteFile(roots, to, bytes);
  await deleteSiteFile(roots, from);
  return { changed: true, detail: `moved ${show(from)} to ${show(to)}` };
}

/** Extract a ZIP (on the host, already within the resource caps) into a site folder, file by file. */
export async function unzipToSite(roots: SiteRoots, zipPath: string, dest: SitePath): Promise<FileOutcome> {
  const zip = await openZipChecked(zipPath, DEFAULT_ZIP_LIMITS, "unzip 'data'");
  let changed = 0;
  let total = 0;
  try {
    for (const entry of zip.entries) {
      if (entry.name.split("/")[0] === MACOSX_DIR) continue;
      const target: SitePath = { root: dest.root, rel: `${dest.rel}/${entry.name}` };
      const out = entry.isDirectory
        ? await makeSiteDir(roots, target)
        : await writeSiteFile(roots, target, await zip.read(entry, DEFAULT_ZIP_LIMITS.maxBytes));
      if (!entry.isDirectory) total++;
      if (out.changed) changed++;
    }
  } finally {
    zip.close();
  }
  return changed
    ? { changed: true, detail: `extracted into ${show(dest)}: ${changed} of ${total} file(s) written or folders made` }
    : { changed: false, detail: `${show(dest)} already holds the ${total} file(s) of the archive` };
}
