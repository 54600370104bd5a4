import fs from "node:fs/promises";
import fss from "node:fs";
import path from "node:path";
import { createHash, randomBytes } from "node:crypto";
import { paths } from "../lib/config";
import { AppError, ValidationError } from "../lib/errors";
import { run } from "../lib/proc";
import { takeSpare } from "./spares";

/**
 * Where an instance's code comes from: MOODLE_SOURCE (a dir, .tgz or .zip), a moodle-sources/
 * folder, or the CI fixture app. Archives are unpacked once per version into the cache; each
 * instance then gets its own copy so plugins can be added to one site only.
 */
export interface MoodleSource {
  dir: string;
  branch: string;
  release: string;
  /** $version from version.php: a new build means a new cache entry and a new template. */
  version: string;
  publicDir: boolean;
  origin: string;
}

export const appRoot = () => path.resolve(process.env.MDIND_APP_ROOT ?? process.cwd());
export const fixtureDir = () => path.join(appRoot(), "tests", "fixture-app");

/** '501' → '5.1', '405' → '4.5'; anything else is kept (the fixture says 'fixture'). */
export function branchFromCode(code: string): string {
  const m = /^(\d)(\d{2})$/.exec(code);
  return m ? `${m[1]}.${Number(m[2])}` : code;
}

export async function readVersion(dir: string): Promise<{ branch: string; release: string; version: string; publicDir: boolean }> {
  const publicDir = fss.existsSync(path.join(dir, "public", "version.php"));
  const file = publicDir ? path.join(dir, "public", "version.php") : path.join(dir, "version.php");
  let text: string;
  try {
    text = await fs.readFile(file, "utf8");
  } catch {
    throw new ValidationError(`${dir} is not a Moodle tree: no version.php or public/version.php`, "source");
  }
  const branch = /\$branch\s*=\s*'([^']+)'/.exec(text)?.[1];
  const release = /\$release\s*=\s*'([^']+)'/.exec(text)?.[1] ?? "unknown";
  const version = /\$version\s*=\s*([0-9.]+)/.exec(text)?.[1] ?? "0";
  if (!branch) throw new ValidationError(`${file} has no $branch`, "source");
  return { branch: branchFromCode(branch), release, version, publicDir };
}

/** The configured Moodle source, or null when none is configured. */
async function configuredOrigin(): Promise<string | null> {
  if (process.env.MOODLE_SOURCE) return path.resolve(process.env.MOODLE_SOURCE);
  const folder = path.join(appRoot(), "moodle-sources");
  try {
    const entries = (await fs.readdir(folder)).filter((e) => !e.startsWith(".")).sort();
    const pick = entries.find((e) => /\.(tgz|tar\.gz|zip)$/.test(e)) ?? entries[0];
    return pick ? path.join(folder, pick) : null;
  } catch {
    return null;
  }
}

async function unpackOnce(archive: string): Promise<string> {
  const st = await fs.stat(archive);
  const key = createHash("sha256").update(`${archive}:${st.size}:${st.mtimeMs}`).digest("hex").slice(0, 16);
  const dest = path.join(paths.cache(), "sources", key);
  if (fss.existsSync(path.join(dest, ".complete"))) return topDir(dest);
  const tmp = `${dest}.partial`;
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  if (archive.endsWith(".zip")) await run("unzip", ["-q", archive, "-d", tmp]);
  else await run("tar", ["-xzf", archive, "-C", tmp, "--no-same-owner"]);
  await fs.writeFile(path.join(tmp, ".complete"), archive);
  await fs.rm(dest, { recursive: true, force: true });
  await fs.rename(tmp, dest);
  return topDir(dest);
}

/** Archives usually hold one top folder (moodle/); use it when version.php is not at the root. */
async function topDir(dir: string): Promise<string> {
  if (fss.existsSync(path.join(dir, "version.php")) || fss.existsSync(path.join(dir, "public", "version.php"))) return dir;
  const subs = (await fs.readdir(dir, { withFileTypes: true })).filter((d) => d.isDirectory());
  if (subs.length === 1) return path.join(dir, subs[0].name);
  return dir;
}

export async function resolveSource(moodle: string): Promise<MoodleSource> {
  if (moodle === "fixture") {
    const dir = fixtureDir();
    return { dir, ...(await readVersion(dir)), origin: "fixture" };
  }
  const origin = await configuredOrigin();
  if (!origin) {
    throw new AppError(
      "validation",
      "No Moodle source: set MOODLE_SOURCE to a Moodle tree, .tgz or .zip, or put one in moodle-sources/ (or use --moodle fixture for the test app)",
      { field: "moodle" },
    );
  }
  const st = await fs.stat(origin).catch(() => null);
  if (!st) throw new ValidationError(`MOODLE_SOURCE ${origin} does not exist`, "moodle");
  const unpacked = st.isDirectory() ? origin : await unpackOnce(origin);
  const v = await readVersion(unpacked);
  if (moodle !== "auto" && v.branch !== moodle) {
    throw new ValidationError(`moodle: asked for ${moodle} but the source at ${origin} is ${v.branch} (${v.release})`, "moodle");
  }
  const dir = st.isDirectory() ? await cacheTree(unpacked, v) : unpacked;
  return { dir, ...v, origin };
}

/**
 * A user's source directory is copied once per Moodle version into our cache, owned by root and
 * never written again: instances hard-link their code from it, so a user editing or switching
 * their checkout never reaches a running site.
 */
const caching = new Map<string, Promise<string>>();

async function cacheTree(src: string, v: { release: string; version: string }): Promise<string> {
  const key = createHash("sha256").update(`${src}\0${v.version}\0${v.release}`).digest("hex").slice(0, 16);
  const dest = path.join(paths.cache(), "sources", `tree-${key}`);
  if (fss.existsSync(path.join(dest, ".complete"))) return dest;
  // Two creates of one new source in this process (the dashboard, a bench) share one copy.
  const inflight = caching.get(dest);
  if (inflight) return inflight;
  const p = copyIntoCache(src, dest).finally(() => caching.delete(dest));
  caching.set(dest, p);
  return p;
}

async function copyIntoCache(src: string, dest: string): Promise<string> {
  const tmp = `${dest}.partial-${process.pid}-${randomBytes(4).toString("hex")}`;
  await fs.rm(tmp, { recursive: true, force: true });
  await fs.mkdir(tmp, { recursive: true });
  try {
    await run("cp", ["-a", `${src}/.`, tmp]);
    await fs.rm(path.join(tmp, "config.php"), { force: true });
    await run("chown", ["-R", "0:0", tmp]);
    await fs.writeFile(path.join(tmp, ".complete"), src);
  } catch (e) {
    await fs.rm(tmp, { recursive: true, force: true });
    throw e;
  }
  await fs.rename(tmp, dest).catch(async (e) => {
    // Another process cached the same version first: use theirs.
    await fs.rm(tmp, { recursive: true, force: true });
    if (!fss.existsSync(path.join(dest, ".complete"))) throw e;
  });
  return dest;
}

/**
 * Give an instance its own code tree. From a cached (root-owned, never written) tree the files are
 * hard links — seconds instead of a minute for Moodle's 30k files — and the directories are the
 * instance's own, owned by www-data: plugins can be added, and a file can be replaced (new inode)
 * but not changed in place by PHP, so one site never edits another's code. Elsewhere, a real copy.
 */
export async function copyCode(src: string, dest: string, opts: { link: boolean }): Promise<void> {
  if (opts.link && (await takeSpare(src, dest))) {
    await fs.rm(path.join(dest, "config.php"), { force: true });
    return;
  }
  await fs.mkdir(dest, { recursive: true });
  let linked = false;
  if (opts.link) {
    linked = await run("cp", ["-al", `${src}/.`, dest]).then(() => true, () => false);
  }
  if (!linked) {
    await fs.rm(dest, { recursive: true, force: true });
    await fs.mkdir(dest, { recursive: true });
    await run("cp", ["-a", "--reflink=auto", `${src}/.`, dest]);
  }
  await fs.rm(path.join(dest, "config.php"), { force: true });
  await fs.rm(path.join(dest, ".complete"), { force: true });
  if (linked) await run("find", [dest, "-type", "d", "-exec", "chown", "33:33", "{}", "+"]);
  else await run("chown", ["-R", "33:33", dest]);
}

/** True when `src` is one of our read-only caches (hard links from it are safe). */
export function isCachedTree(src: string): boolean {
  return path.resolve(src).startsWith(path.join(paths.cache(), "sources") + path.sep);
}

export async function chownWww(...dirs: string[]): Promise<void> {
  for (const d of dirs) await run("chown", ["-R", "33:33", d]);
}
