import fs from "node:fs/promises";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { AppError, NotFoundError, ValidationError } from "../errors";
import { readJson } from "../lock";
import { run } from "../proc";
import { archiveKind, extractArchive, type ExtractProgress } from "./extract";
import { BRANCH_RE, BUILD_ID_RE, buildDir, libraryDir, VERSION_RE } from "./paths";
import { findMoodleRoot, readVersion, releaseNumber, type MoodleVersion } from "./version";

/**
 * The library's store: one folder per build, added atomically (staged as <id>.partial-<pid>-<rand>,
 * then renamed) and idempotently (the same release + $version is never stored twice). The tree is
 * made root-owned and not writable by others: instances hard-link their code from it, so nothing an
 * instance does can change a build.
 */
export const ORIGINS = ["disk", "upload", "download", "git", "env", "moodle-sources"] as const;
export type BuildOrigin = (typeof ORIGINS)[number];

export interface BuildInfo {
  id: string;
  branch: string;
  release: string;
  version: string;
  publicDir: boolean;
  origin: BuildOrigin;
  /** Path, file name, URL or URL#ref the build came from. */
  originDetail: string;
  addedAt: string;
  sizeBytes: number;
  /** Composer's vendor/ is there (git checkouts of 5.x lack it until `composer install`). */
  vendor: boolean;
  files: number;
}

export interface BuildProgress {
  phase: "upload" | "download" | "clone" | "extract" | "copy" | "check";
  bytes?: number;
  total?: number | null;
  /** bytes/s */
  rate?: number;
}
export type OnProgress = (p: BuildProgress) => void;

export interface OriginRef {
  kind: BuildOrigin;
  detail: string;
}

export interface IngestOptions {
  onProgress?: OnProgress;
  /** The folder is ours (a fresh clone): move it instead of copying. */
  move?: boolean;
  /** Refuse a build that is not this branch or release (a git ref that holds something else). */
  expect?: string;
}

/** Every stored build, newest $version first. Half-made and removed folders are not builds. */
export async function readBuilds(): Promise<BuildInfo[]> {
  const names = await fs.readdir(libraryDir()).catch(() => [] as string[]);
  const out: BuildInfo[] = [];
  for (const n of names.filter((x) => BUILD_ID_RE.test(x))) {
    const b = await readJson<BuildInfo | null>(path.join(buildDir(n), "build.json"), null).catch(() => null);
    if (b && b.id === n) out.push(b);
  }
  return out.sort(newestFirst);
}

export function newestFirst(a: BuildInfo, b: BuildInfo): number {
  return Number(b.version) - Number(a.version) || b.addedAt.localeCompare(a.addedAt);
}

export function checkBuildId(id: unknown): string {
  if (typeof id !== "string" || id.length > 40 || !BUILD_ID_RE.test(id)) {
    throw new ValidationError("id: not a Moodle build id (e.g. 4.5-2024100705.01-a1b2c3d4)", "id");
  }
  return id;
}

export async function readBuild(id: string): Promise<BuildInfo> {
  checkBuildId(id);
  const b = await readJson<BuildInfo | null>(path.join(buildDir(id), "build.json"), null).catch(() => null);
  if (!b) throw new NotFoundError(`no Moodle build ${id} in the library`);
  return b;
}

/** Take the build out of the library: renamed away first, so it vanishes at once, then deleted. */
export async function deleteBuild(id: string): Promise<void> {
  await readBuild(id);
  const gone = path.join(libraryDir(), `${id}.removing-${process.pid}-${randomBytes(4).toString("hex")}`);
  await fs.rename(buildDir(id), gone);
  await fs.rm(gone, { recursive: true, force: true });
}

/** Leftovers of a process that died while adding or removing (its pid is gone). */
export async function sweepPartials(): Promise<void> {
  const names = await fs.readdir(libraryDir()).catch(() => [] as string[]);
  for (const n of names) {
    const m = /\.(?:partial|removing)-(\d+)-[0-9a-f]+$/.exec(n);
    if (m && !alive(Number(m[1]))) await fs.rm(path.join(libraryDir(), n), { recursive: true, force: true }).catch(() => undefined);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export function buildIdFor(v: MoodleVersion, origin: OriginRef): string {
  const hash = createHash("sha256").update(JSON.stringify([origin.kind, origin.detail, v.release])).digest("hex").slice(0, 8);
  return `${v.branch}-${v.version}-${hash}`;
}

/** Does build `b` answer to `want` (a branch "4.5", a release "4.5.5" or an id)? */
export function matches(b: Pick<BuildInfo, "id" | "branch" | "release">, want: string): boolean {
  if (BUILD_ID_RE.test(want)) return b.id === want;
  if (BRANCH_RE.test(want)) return b.branch === want;
  return releaseNumber(b.release) === releaseNumber(want);
}

function checkVersion(v: MoodleVersion): void {
  if (!BRANCH_RE.test(v.branch)) throw new ValidationError(`not a Moodle release: version.php says $branch '${v.branch.slice(0, 20)}'`, "source");
  if (!VERSION_RE.test(v.version)) throw new ValidationError(`not a Moodle release: version.php says $version ${v.version.slice(0, 20)}`, "source");
}

/**
 * Add a Moodle tree or package to the library; returns the stored build (the existing one when the
 * same release and $version is already there). Nothing is left behind on failure.
 */
export async function ingest(input: string, origin: OriginRef, opts: IngestOptions = {}): Promise<BuildInfo> {
  const st = await fs.stat(input).catch(() => null);
  if (!st) throw new ValidationError(`${input} does not exist`, "path");
  if (!st.isDirectory() && !(st.isFile() && archiveKind(input))) {
    throw new ValidationError(`${input}: give a Moodle folder or a .tgz, .tar.gz or .zip package`, "path");
  }
  await fs.mkdir(libraryDir(), { recursive: true });
  let stage = path.join(libraryDir(), `incoming.partial-${process.pid}-${randomBytes(4).toString("hex")}`);
  await fs.mkdir(stage);
  try {
    let src: string;
    if (st.isDirectory()) {
      src = await findMoodleRoot(input);
    } else {
      const onProgress = (p: ExtractProgress) => opts.onProgress?.({ phase: "extract", bytes: p.bytes, total: p.total });
      src = (await extractArchive(input, path.join(stage, "unpacked"), { onProgress })).root;
    }
    const v = await readVersion(src);
    checkVersion(v);
    if (opts.expect && !matches({ id: "", branch: v.branch, release: v.release }, opts.expect)) {
      throw new ValidationError(`expected Moodle ${opts.expect}, but ${origin.detail} holds ${v.release} (branch ${v.branch})`, "version");
    }
    const same = (await readBuilds()).find((b) => b.release === v.release && b.version === v.version);
    if (same) return same;
    const id = buildIdFor(v, origin);
    const unpackedRoot = st.isDirectory() ? null : path.relative(stage, src);
    const named = path.join(libraryDir(), `${id}.partial-${process.pid}-${randomBytes(4).toString("hex")}`);
    await fs.rename(stage, named);
    stage = named;
    const tree = path.join(stage, "tree");
    if (unpackedRoot === null && !opts.move) {
      opts.onProgress?.({ phase: "copy" });
      await copyTree(src, tree);
    } else {
      // Same filesystem (both under the library): a rename, not a copy.
      await fs.rename(unpackedRoot === null ? src : path.join(stage, unpackedRoot), tree);
      await fs.rm(path.join(stage, "unpacked"), { recursive: true, force: true });
    }
    await fs.rm(path.join(tree, "config.php"), { force: true });
    await fs.rm(path.join(tree, ".git"), { recursive: true, force: true });
    opts.onProgress?.({ phase: "check" });
    const m = await measure(tree);
    const vendor = await exists(path.join(tree, "vendor")) || (v.publicDir && (await exists(path.join(tree, "public", "vendor"))));
    // Read-only to instances: root-owned, nothing writable by group or others.
    await run("chmod", ["-R", "go-w", tree]);
    await run("chown", ["-R", "0:0", tree]);
    // The marker older source-cache trees carry; copyCode and spares drop it from instance copies.
    await fs.writeFile(path.join(tree, ".complete"), id);
    const info: BuildInfo = {
      id, branch: v.branch, release: v.release, version: v.version, publicDir: v.publicDir,
      origin: origin.kind, originDetail: origin.detail, addedAt: new Date().toISOString(),
      sizeBytes: m.bytes, vendor, files: m.files,
    };
    await fs.writeFile(path.join(stage, "build.json"), `${JSON.stringify(info, null, 2)}\n`);
    try {
      await fs.rename(stage, buildDir(id));
    } catch (e) {
      // Another process stored the same build a moment ago: use theirs.
      const theirs = await readBuild(id).catch(() => null);
      if (!theirs) throw e;
      return theirs;
    }
    return info;
  } finally {
    await fs.rm(stage, { recursive: true, force: true });
  }
}

async function exists(p: string): Promise<boolean> {
  return fs.stat(p).then(() => true, () => false);
}

/** A user's folder, minus its .git (hundreds of MB no instance needs) and its config.php. */
async function copyTree(src: string, dest: string): Promise<void> {
  await fs.mkdir(dest);
  const entries = (await fs.readdir(src)).filter((e) => e !== ".git" && e !== "config.php");
  if (entries.length) await run("cp", ["-a", "--", ...entries.map((e) => path.join(src, e)), `${dest}/`]);
}

/**
 * Count files and bytes, and refuse what an instance must never get from a folder or a clone:
 * links that leave the tree (absolute, or climbing out) and devices, fifos and sockets.
 */
async function measure(root: string): Promise<{ files: number; bytes: number }> {
  let files = 0;
  let bytes = 0;
  const stack = [root];
  while (stack.length) {
    const dir = stack.pop()!;
    for (const e of await fs.readdir(dir, { withFileTypes: true })) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile()) {
        files += 1;
        bytes += (await fs.lstat(p)).size;
      } else if (e.isSymbolicLink()) {
        const target = await fs.readlink(p);
        const resolved = path.resolve(dir, target);
        if (path.isAbsolute(target) || !resolved.startsWith(root + path.sep)) {
          throw new ValidationError(`${path.relative(root, p)} is a link pointing outside the Moodle tree (${target.slice(0, 80)})`, "source");
        }
        files += 1;
      } else {
        throw new ValidationError(`${path.relative(root, p)} is a device, fifo or socket; a Moodle tree has none`, "source");
      }
    }
  }
  if (files === 0) throw new AppError("validation", "the Moodle tree is empty", { field: "source" });
  return { files, bytes };
}
