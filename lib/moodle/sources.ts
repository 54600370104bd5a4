import fs from "node:fs/promises";
import path from "node:path";
import { isAppError } from "../errors";
import { readJson, writeFileAtomic } from "../lock";
import { archiveKind } from "./extract";
import { buildDir, libraryDir, sourcesDir } from "./paths";
import { ingest, type BuildOrigin } from "./store";
import { findMoodleRoot } from "./version";

/**
 * The ways in that need no command: MOODLE_SOURCE (one tree or package) and every entry of the
 * sources folder (moodle-sources/ beside the app, or MDIND_MOODLE_SOURCES — the DinD host mounts the
 * user's folder there read-only). Each is added to the library the first time anyone lists or
 * resolves builds. An index remembers each entry by path + size + mtime (of version.php for a
 * folder), so a scan is a few stats, an entry is added again only when it changed, and a build the
 * user removed stays removed until its package changes.
 */
interface IndexEntry {
  size: number;
  mtimeMs: number;
  buildId?: string;
  /** Why the entry is not a build (a refused archive, not Moodle): kept so it is not retried. */
  error?: string;
}

export interface ScanResult {
  /** The build MOODLE_SOURCE holds, when set and usable. */
  envBuildId?: string;
  /** MOODLE_SOURCE's problem, when it is set but unusable. */
  envError?: string;
  /** Entries that are not builds, and why. */
  skipped: { entry: string; error: string }[];
}

const indexFile = () => path.join(libraryDir(), "sources.json");

// One scan at a time in this process; callers arriving meanwhile share its result.
let scanning: Promise<ScanResult> | null = null;

export function scanSources(): Promise<ScanResult> {
  scanning ??= doScan().finally(() => {
    scanning = null;
  });
  return scanning;
}

async function candidates(): Promise<{ file: string; kind: BuildOrigin }[]> {
  const out: { file: string; kind: BuildOrigin }[] = [];
  if (process.env.MOODLE_SOURCE) out.push({ file: path.resolve(process.env.MOODLE_SOURCE), kind: "env" });
  const dir = sourcesDir();
  const entries = await fs.readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.name.startsWith(".")) continue;
    if (e.isDirectory() || (e.isFile() && archiveKind(e.name))) out.push({ file: path.join(dir, e.name), kind: "moodle-sources" });
  }
  return out;
}

/** What identifies an entry's content cheaply: the package itself, or a folder's version.php. */
async function stamp(file: string): Promise<{ size: number; mtimeMs: number } | null> {
  const st = await fs.stat(file).catch(() => null);
  if (!st) return null;
  if (st.isDirectory()) {
    const root = await findMoodleRoot(file).catch(() => null);
    const v = root ? await fs.stat(path.join(root, "public", "version.php")).catch(() => fs.stat(path.join(root, "version.php"))) : null;
    if (v) return { size: v.size, mtimeMs: v.mtimeMs };
  }
  return { size: st.size, mtimeMs: st.mtimeMs };
}

async function doScan(): Promise<ScanResult> {
  const index = await readJson<Record<string, IndexEntry>>(indexFile(), {}).catch(() => ({}) as Record<string, IndexEntry>);
  const result: ScanResult = { skipped: [] };
  for (const c of await candidates()) {
    const s = await stamp(c.file);
    if (!s) {
      if (c.kind === "env") result.envError = `MOODLE_SOURCE ${c.file} does not exist`;
      continue;
    }
    let entry = index[c.file];
    const unchanged = entry && entry.size === s.size && entry.mtimeMs === s.mtimeMs;
    // MOODLE_SOURCE is an explicit choice: its build comes back if it was removed.
    const envGone = c.kind === "env" && entry?.buildId && !(await fs.stat(buildDir(entry.buildId)).catch(() => null));
    if (!unchanged || envGone) {
      try {
        const b = await ingest(c.file, { kind: c.kind, detail: c.file });
        entry = { ...s, buildId: b.id };
      } catch (e) {
        const error = e instanceof Error ? e.message.split("\n")[0] : String(e);
        // Only the package's own fault is remembered; a full disk is retried next time.
        entry = isAppError(e) && e.kind === "validation" ? { ...s, error } : { ...s, error: `${error} (will retry)` };
        if (!(isAppError(e) && e.kind === "validation")) {
          result.skipped.push({ entry: c.file, error: entry.error! });
          if (c.kind === "env") result.envError = `MOODLE_SOURCE ${c.file}: ${error}`;
          continue;
        }
      }
      index[c.file] = entry;
      await writeFileAtomic(indexFile(), `${JSON.stringify(index, null, 2)}\n`);
    }
    if (entry.error) {
      result.skipped.push({ entry: c.file, error: entry.error });
      if (c.kind === "env") result.envError = `MOODLE_SOURCE ${c.file}: ${entry.error}`;
    } else if (c.kind === "env") {
      result.envBuildId = entry.buildId;
    }
  }
  return result;
}
