import fs from "node:fs/promises";
import path from "node:path";
import { paths } from "../lib/config";
import { run } from "../lib/proc";
import { appRoot, isLibraryTree, treeDir } from "../lib/moodle/paths";
import { resolveBuild } from "../lib/moodle/library";
import { readVersion } from "../lib/moodle/version";
import { takeSpare } from "./spares";

/**
 * Where an instance's code comes from: a build of the Moodle library (lib/moodle/library.ts, which
 * also takes in MOODLE_SOURCE and moodle-sources/), or the CI fixture app. Each instance then gets
 * its own tree of hard links to the build, so plugins can be added to one site only.
 */
export interface MoodleSource {
  dir: string;
  branch: string;
  release: string;
  /** $version from version.php: a new build means a new library entry and a new template. */
  version: string;
  publicDir: boolean;
  origin: string;
  /** The library build, absent for the fixture app and for clones/imports of older records. */
  buildId?: string;
  /** Composer's vendor/ is in the build (Moodle's environment page warns when it is not). */
  vendor?: boolean;
}

export { appRoot };
export const fixtureDir = () => path.join(appRoot(), "tests", "fixture-app");

/** `moodle` of a create: "fixture", "auto", a branch (4.5), a release (4.5.5) or a build id. */
export async function resolveSource(moodle: string): Promise<MoodleSource> {
  if (moodle === "fixture") {
    const dir = fixtureDir();
    return { dir, ...(await readVersion(dir)), origin: "fixture" };
  }
  const b = await resolveBuild(moodle);
  // The build id is the origin: templates are keyed by it, so each build gets its own.
  return { dir: treeDir(b.id), branch: b.branch, release: b.release, version: b.version, publicDir: b.publicDir, origin: b.id, buildId: b.id, vendor: b.vendor };
}

/** The branch a create will run, checked before the operation starts (an unknown version answers 422 at once). */
export async function sourceBranch(moodle: string): Promise<string> {
  return moodle === "fixture" ? moodle : (await resolveBuild(moodle)).branch;
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

/** True when `src` is one of our read-only trees (hard links from it are safe): a library build or the older source cache. */
export function isCachedTree(src: string): boolean {
  return isLibraryTree(src) || path.resolve(src).startsWith(path.join(paths.cache(), "sources") + path.sep);
}

export async function chownWww(...dirs: string[]): Promise<void> {
  for (const d of dirs) await run("chown", ["-R", "33:33", d]);
}
