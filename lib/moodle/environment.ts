import fs from "node:fs/promises";
import path from "node:path";
import { ValidationError } from "../errors";

/**
 * What a Moodle build says it needs, read from its own admin/environment.xml (public/admin/ on
 * 5.1+) the way Moodle's environmentlib.php reads it: the newest <MOODLE version="X.Y"> block not
 * newer than the build's release, its `requires` (the oldest release an upgrade may start from),
 * its <PHP version> and its <DATABASE> vendors. Regexes only: the file may come from an upload.
 */
export interface EnvRequirements {
  /** The block used, e.g. "5.1". */
  block: string;
  /** Oldest release an upgrade may start from ("4.2.3"), or null when the block names none. */
  requires: string | null;
  php: string | null;
  /** Vendor → minimum version: postgres, mariadb, mysql … */
  db: Record<string, string>;
}

/** The environment file is ~300 KB; anything far bigger is not Moodle's. */
const MAX_XML_BYTES = 4 * 1024 * 1024;

/** Moodle's normalize_version(): "5.1+ (Build: 20251017)" → "5.1", "4.5.5" → "4.5.5". */
export function normalizeVersion(v: string): string {
  const first = v.trim().split(" ")[0] ?? "";
  return first.replace(/[^.\d]/g, ".").replace(/\.{2,}/g, ".").replace(/^\.+|\.+$/g, "");
}

/**
 * PHP's version_compare() for dotted numbers, which is what Moodle compares with: part by part,
 * and when one runs out first it is the smaller ("4.5" < "4.5.0").
 */
export function phpVersionCompare(a: string, b: string): number {
  const pa = a.split(".").filter(Boolean).map(Number);
  const pb = b.split(".").filter(Boolean).map(Number);
  for (let i = 0; i < Math.min(pa.length, pb.length); i++) if (pa[i] !== pb[i]) return pa[i] - pb[i];
  return pa.length - pb.length;
}

/**
 * Does a site on `release` meet `requires`? As environment_check_moodle(): a "dev" release counts
 * as the one before it, because a final release is what the rule asks for.
 */
export function meetsRequires(release: string, requires: string): boolean {
  let current = normalizeVersion(release);
  if (release.includes("dev")) {
    const parts = current.split(".").map(Number);
    if (parts.length > 1 && parts[1] > 0) parts[1] -= 1;
    else parts[0] -= 1;
    current = parts.join(".");
  }
  return phpVersionCompare(current, requires) >= 0;
}

const attr = (tag: string, name: string) => new RegExp(`\\b${name}="([^"]{1,40})"`).exec(tag)?.[1] ?? null;

/** The requirements for `release` from the text of environment.xml, or null when no block fits. */
export function parseEnvironment(xml: string, release: string): EnvRequirements | null {
  const want = normalizeVersion(release);
  const blocks: { version: string; open: string; body: string }[] = [];
  for (const m of xml.matchAll(/<MOODLE\b([^>]*)>([\s\S]*?)<\/MOODLE>/g)) {
    const version = attr(m[1], "version");
    if (version && /^\d+(\.\d+)*$/.test(version)) blocks.push({ version, open: m[1], body: m[2] });
  }
  // get_latest_version_available(): the newest block that is not newer than the release.
  const fit = blocks.filter((b) => phpVersionCompare(b.version, want) <= 0).sort((x, y) => phpVersionCompare(y.version, x.version))[0];
  if (!fit) return null;
  const dbBody = /<DATABASE\b[^>]*>([\s\S]*?)<\/DATABASE>/.exec(fit.body)?.[1] ?? "";
  const db: Record<string, string> = {};
  for (const v of dbBody.matchAll(/<VENDOR\b([^>]*)\/?>/g)) {
    const name = attr(v[1], "name");
    const version = attr(v[1], "version");
    if (name && version) db[name] = version;
  }
  const phpTag = /<PHP\b([^>]*)>/.exec(fit.body)?.[1];
  return { block: fit.version, requires: attr(fit.open, "requires"), php: phpTag ? attr(phpTag, "version") : null, db };
}

/** The requirements a build states for its own release; refused when the build has no such data. */
export async function readEnvironment(tree: string, publicDir: boolean, release: string): Promise<EnvRequirements> {
  const file = path.join(tree, ...(publicDir ? ["public"] : []), "admin", "environment.xml");
  const rel = path.relative(tree, file);
  const st = await fs.stat(file).catch(() => null);
  if (!st?.isFile() || st.size > MAX_XML_BYTES) throw new ValidationError(`the target build has no readable ${rel}, so its upgrade rules are unknown`, "to");
  const env = parseEnvironment(await fs.readFile(file, "utf8"), release);
  if (!env) throw new ValidationError(`${rel} of the target build has no <MOODLE> block for ${normalizeVersion(release)}`, "to");
  return env;
}

/**
 * Whether version.php marks the build stable. Moodle's upgrade.php refuses anything less in
 * non-interactive mode unless told --allow-unstable.
 */
export async function isStableBuild(tree: string, publicDir: boolean): Promise<boolean> {
  const text = await fs.readFile(path.join(tree, ...(publicDir ? ["public"] : []), "version.php"), "utf8").catch(() => "");
  const m = /\$maturity\s*=\s*(MATURITY_[A-Z]+)/.exec(text);
  return !m || m[1] === "MATURITY_STABLE";
}
