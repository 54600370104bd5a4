import fs from "node:fs/promises";
import path from "node:path";
import { isRealDir, readPluginFile } from "../../lib/moodle/plugins";

/**
 * Subplugins, which lib/components.json does not list: each plugin names its own subplugin types
 * in db/subplugins.json. Two cases matter to an upgrade. A site may add a subplugin to a plugin
 * the build ships (mod/assign/submission/foo): its type folder comes from the build's own
 * subplugins.json, so such folders are found like any added plugin. And a plugin the site added
 * may bring subplugins inside its folder: they travel with it, so they are checked with it.
 */
const TYPE_RE = /^[a-z0-9_]{1,40}$/;
const DIR_RE = /^[a-z0-9_]+(\/[a-z0-9_]+)*$/;

interface SubpluginsJson {
  /** Type → folder relative to the plugin (Moodle 5.1+). */
  subplugintypes?: Record<string, unknown>;
  /** Type → folder relative to the web root (dirroot; public/ on 5.1). */
  plugintypes?: Record<string, unknown>;
}

/**
 * Subplugin type → folder relative to the tree root, from one plugin's db/subplugins.json text.
 * Only plain relative folders inside the plugin's own folder count: the file may be the site's.
 */
export function subpluginDirs(text: string, pluginDir: string, publicDir: boolean): Record<string, string> {
  let j: SubpluginsJson;
  try {
    j = JSON.parse(text) as SubpluginsJson;
  } catch {
    return {};
  }
  if (!j || typeof j !== "object") return {};
  const out: Record<string, string> = {};
  const rel = j.subplugintypes && typeof j.subplugintypes === "object" ? j.subplugintypes : null;
  const abs = !rel && j.plugintypes && typeof j.plugintypes === "object" ? j.plugintypes : null;
  for (const [type, dir] of Object.entries(rel ?? abs ?? {})) {
    if (!TYPE_RE.test(type) || type === "__proto__" || typeof dir !== "string" || !DIR_RE.test(dir)) continue;
    const full = rel ? `${pluginDir}/${dir}` : `${publicDir ? "public/" : ""}${dir}`;
    if (full.startsWith(`${pluginDir}/`)) out[type] = full;
  }
  return out;
}

async function subdirs(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isDirectory() && TYPE_RE.test(e.name)).map((e) => e.name).sort();
}

/** Every subplugin type of the plugins a build ships, with its folder relative to the tree root. */
export async function buildSubpluginTypes(tree: string, types: Record<string, string>, publicDir: boolean): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const dir of Object.values(types)) {
    for (const name of await subdirs(path.join(tree, dir))) {
      const text = await fs.readFile(path.join(tree, dir, name, "db", "subplugins.json"), "utf8").catch(() => "");
      if (text) Object.assign(out, subpluginDirs(text, `${dir}/${name}`, publicDir));
    }
  }
  return out;
}

export interface NestedSubplugin {
  type: string;
  name: string;
  /** Folder relative to the code root. */
  dir: string;
}

/**
 * The subplugins inside a plugin the site added, read from its own db/subplugins.json (never
 * through a link, size-capped) and only from real folders inside the plugin's folder.
 */
export async function nestedSubplugins(code: string, pluginDir: string, publicDir: boolean): Promise<NestedSubplugin[]> {
  const text = await readPluginFile(path.join(code, pluginDir, "db", "subplugins.json"));
  const out: NestedSubplugin[] = [];
  for (const [type, dir] of Object.entries(subpluginDirs(text, pluginDir, publicDir))) {
    if (!(await isRealDir(code, dir))) continue;
    for (const name of await subdirs(path.join(code, dir))) {
      if (await isRealDir(code, `${dir}/${name}`)) out.push({ type, name, dir: `${dir}/${name}` });
    }
  }
  return out;
}
