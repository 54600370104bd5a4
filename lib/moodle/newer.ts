import fs from "node:fs";
import path from "node:path";
import { compareVersions } from "../versions";
import { BRANCH_RE, BUILD_ID_RE, buildDir, libraryDir } from "./paths";
import { newestFirst, type BuildInfo } from "./store";

/**
 * Which library builds an instance could move up to: a higher $version on its own branch or a
 * later one. Whether Moodle's own rules allow the step is decided when an upgrade is asked for
 * (instances/upgrade/plan.ts); this only answers "is there anything newer", cheaply enough for
 * every instance view.
 */
export function upgradeCandidates(builds: readonly BuildInfo[], current: { branch: string; version?: string }): BuildInfo[] {
  if (!BRANCH_RE.test(current.branch) || !current.version) return [];
  const have = Number(current.version);
  return builds
    .filter((b) => BRANCH_RE.test(b.branch) && compareVersions(b.branch, current.branch) >= 0 && Number(b.version) > have)
    .sort(newestFirst);
}

let cache: { mtimeMs: number; dir: string; builds: BuildInfo[] } | null = null;

/**
 * The library's builds, read synchronously and kept until the library folder changes (a build is
 * added or removed by a rename in it, which moves the folder's mtime). Views are built
 * synchronously for the live status feed, so this cannot wait on a promise.
 */
export function libraryBuildsSync(): BuildInfo[] {
  const dir = libraryDir();
  let mtimeMs: number;
  try {
    mtimeMs = fs.statSync(dir).mtimeMs;
  } catch {
    return [];
  }
  if (cache && cache.dir === dir && cache.mtimeMs === mtimeMs) return cache.builds;
  const builds: BuildInfo[] = [];
  for (const n of fs.readdirSync(dir).filter((x) => BUILD_ID_RE.test(x))) {
    try {
      const b = JSON.parse(fs.readFileSync(path.join(buildDir(n), "build.json"), "utf8")) as BuildInfo;
      if (b.id === n) builds.push(b);
    } catch {
      // A build being added has no build.json yet; the next change of the folder reads it.
    }
  }
  cache = { mtimeMs, dir, builds: builds.sort(newestFirst) };
  return cache.builds;
}
