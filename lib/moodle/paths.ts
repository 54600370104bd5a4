import path from "node:path";
import { paths } from "../config";

/**
 * Where Moodle builds live, and the rules for the names that reach them from outside.
 *   <MDIND_HOME>/cache/moodle/<id>/tree/        the code, root-owned, never written again
 *   <MDIND_HOME>/cache/moodle/<id>/build.json   its metadata
 *   <MDIND_HOME>/cache/moodle/sources.json      what moodle-sources/ and MOODLE_SOURCE held when scanned
 *   <MDIND_HOME>/cache/moodle/downloads/        downloads in progress (resumable .partial files)
 */
export const appRoot = () => path.resolve(process.env.MDIND_APP_ROOT ?? process.cwd());
export const libraryDir = () => path.join(paths.cache(), "moodle");
export const buildDir = (id: string) => path.join(libraryDir(), id);
export const treeDir = (id: string) => path.join(buildDir(id), "tree");
export const downloadsDir = () => path.join(libraryDir(), "downloads");

/** The folder of Moodle packages scanned into the library: MDIND_MOODLE_SOURCES (the DinD host mounts the user's there), else moodle-sources/ beside the app. */
export const sourcesDir = () => path.resolve(process.env.MDIND_MOODLE_SOURCES || path.join(appRoot(), "moodle-sources"));

/** `<branch>-<$version>-<8 hex>`, e.g. 4.5-2024100705.01-a1b2c3d4. */
export const BUILD_ID_RE = /^\d\.\d{1,2}-\d{10}(\.\d{2})?-[0-9a-f]{8}$/;
export const BRANCH_RE = /^\d\.\d{1,2}$/;
export const RELEASE_RE = /^\d\.\d{1,2}\.\d{1,2}$/;
/** $version as Moodle writes it: YYYYMMDDXX with an optional two-digit increment. */
export const VERSION_RE = /^\d{10}(\.\d{2})?$/;
/** A git tag or branch: no leading '-' (it would be read as an option), no spaces, no '..'. */
export const GIT_REF_RE = /^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,100}$/;
/** An uploaded package's file name. */
export const UPLOAD_NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,99}$/;

/** True for a tree the library owns (instances may hard-link from it). */
export function isLibraryTree(dir: string): boolean {
  const rel = path.relative(libraryDir(), path.resolve(dir));
  const parts = rel.split(path.sep);
  return parts.length === 2 && BUILD_ID_RE.test(parts[0]) && parts[1] === "tree";
}
