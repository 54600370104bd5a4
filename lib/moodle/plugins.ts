import fs from "node:fs/promises";
import { constants } from "node:fs";
import path from "node:path";
import { readJson } from "../lock";

/**
 * Plugins, as Moodle's plugin manager sees them: where each plugin type lives (lib/components.json
 * of a build) and what a plugin's version.php declares about the cores it runs on. Read with
 * regexes, never executed: an instance's plugin may come from anywhere.
 */
export interface PluginDeclaration {
  component: string | null;
  version: string | null;
  /** Lowest core $version it needs ($plugin->requires). */
  requires: string | null;
  /** Branch codes it supports, both ends included ($plugin->supported = [405, 501]). */
  supported: [number, number] | null;
  /** First branch code it does not run on ($plugin->incompatible = 501). */
  incompatible: number | null;
}

const num = (re: RegExp, text: string) => re.exec(text)?.[1] ?? null;

export function parsePluginVersion(text: string): PluginDeclaration {
  const sup = /\$plugin->supported\s*=\s*(?:\[|array\s*\()\s*(\d{3,4})\s*,\s*(\d{3,4})\s*(?:\]|\))/.exec(text);
  const inc = num(/\$plugin->incompatible\s*=\s*'?(\d{3,4})'?\s*;/, text);
  return {
    component: num(/\$plugin->component\s*=\s*['"]([a-z0-9_]{1,100})['"]/, text),
    version: num(/\$plugin->version\s*=\s*([0-9.]{1,20})\s*;/, text),
    requires: num(/\$plugin->requires\s*=\s*([0-9.]{1,20})\s*;/, text),
    supported: sup ? [Number(sup[1]), Number(sup[2])] : null,
    incompatible: inc ? Number(inc) : null,
  };
}

/** "5.1" → 501, "4.5" → 405: the branch code Moodle compares `supported` and `incompatible` with. */
export function branchCode(branch: string): number {
  const m = /^(\d)\.(\d{1,2})$/.exec(branch);
  return m ? Number(m[1]) * 100 + Number(m[2]) : Number.NaN;
}

const label = (code: number) => `${Math.floor(code / 100)}.${code % 100}`;

/**
 * Why a plugin cannot go onto a core of `version` on `branch`, or null when it can. `requires` and
 * `incompatible` are what Moodle itself blocks on; a declared `supported` range that leaves the
 * branch out is refused too, because a rehearsal should not carry a plugin its author ruled out.
 */
export function pluginBlocker(p: PluginDeclaration, target: { version: string; branch: string }): string | null {
  const code = branchCode(target.branch);
  if (p.requires && Number(p.requires) > Number(target.version)) return `needs core ${p.requires}, the target is ${target.version}`;
  if (p.incompatible !== null && code >= p.incompatible) return `incompatible from ${label(p.incompatible)} on`;
  if (p.supported && (code < p.supported[0] || code > p.supported[1])) return `supports ${label(p.supported[0])}–${label(p.supported[1])} only`;
  return null;
}

/** Plugin type → its folder relative to the tree root (5.1+: "public/mod"), from lib/components.json. */
export async function readPluginTypes(tree: string): Promise<Record<string, string> | null> {
  const j = await readJson<{ plugintypes?: Record<string, unknown> } | null>(path.join(tree, "lib", "components.json"), null).catch(() => null);
  if (!j?.plugintypes || typeof j.plugintypes !== "object") return null;
  const out: Record<string, string> = {};
  for (const [type, dir] of Object.entries(j.plugintypes)) {
    // Only plain relative paths inside the tree: the file may come from an upload.
    if (/^[a-z0-9_]{1,40}$/.test(type) && typeof dir === "string" && /^[a-z0-9_]+(\/[a-z0-9_]+)*$/.test(dir)) out[type] = dir;
  }
  return out;
}

export interface AddedPlugin {
  type: string;
  name: string;
  /** Folder relative to the tree root, e.g. "local/foo" or "public/local/foo". */
  dir: string;
}

/**
 * True when every component of `rel` under `root` is a real directory. An instance's PHP can put
 * a link where a plugin folder was; followed by root on the host it would lead anywhere there.
 */
export async function isRealDir(root: string, rel: string): Promise<boolean> {
  let at = root;
  for (const part of rel.split("/")) {
    at = path.join(at, part);
    const st = await fs.lstat(at).catch(() => null);
    if (!st?.isDirectory()) return false;
  }
  return true;
}

/** A plugin's version.php: a regular file (never through a link) of sane size, else "". */
export async function readPluginFile(file: string): Promise<string> {
  const st = await fs.lstat(file).catch(() => null);
  if (!st?.isFile() || st.size > 256 * 1024) return "";
  const h = await fs.open(file, constants.O_RDONLY | constants.O_NOFOLLOW).catch(() => null);
  if (!h) return "";
  try {
    return await h.readFile("utf8");
  } finally {
    await h.close();
  }
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && /^[a-z0-9_]{1,60}$/.test(e.name)).map((e) => e.name);
}

/**
 * Plugin folders in an instance's code that its build does not have: what the site's admins added.
 * The instance's code is hard links of the build, so any folder the build lacks is theirs.
 */
export async function addedPlugins(code: string, buildTree: string, types: Record<string, string>): Promise<AddedPlugin[]> {
  const out: AddedPlugin[] = [];
  for (const [type, dir] of Object.entries(types).sort(([a], [b]) => a.localeCompare(b))) {
    if (!(await isRealDir(code, dir))) continue;
    const shipped = new Set(await subdirs(path.join(buildTree, dir)));
    for (const name of await subdirs(path.join(code, dir))) {
      if (!shipped.has(name)) out.push({ type, name, dir: `${dir}/${name}` });
    }
  }
  return out;
}
