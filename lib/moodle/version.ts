import fs from "node:fs/promises";
import fss from "node:fs";
import path from "node:path";
import { ValidationError } from "../errors";

/**
 * What a Moodle tree says about itself in version.php (public/version.php on 5.1+, whose web root
 * moved to public/). Read with regexes, never executed: the file may come from an upload.
 */
export interface MoodleVersion {
  branch: string;
  release: string;
  /** $version, e.g. "2024100705.01": a new build means a new library entry and a new template. */
  version: string;
  publicDir: boolean;
}

/** '501' → '5.1', '405' → '4.5'; anything else is kept (the fixture says 'fixture'). */
export function branchFromCode(code: string): string {
  const m = /^(\d)(\d{2})$/.exec(code);
  return m ? `${m[1]}.${Number(m[2])}` : code;
}

export async function readVersion(dir: string): Promise<MoodleVersion> {
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

export function hasVersionFile(dir: string): boolean {
  return fss.existsSync(path.join(dir, "version.php")) || fss.existsSync(path.join(dir, "public", "version.php"));
}

/**
 * The Moodle root inside an unpacked package or a folder: the folder itself when version.php is
 * there, else its single top folder (packages hold `moodle/`; macOS zips add __MACOSX beside it).
 */
export async function findMoodleRoot(dir: string): Promise<string> {
  if (hasVersionFile(dir)) return dir;
  const subs = (await fs.readdir(dir, { withFileTypes: true })).filter((d) => d.name !== "__MACOSX" && !d.name.startsWith("."));
  if (subs.length === 1 && subs[0].isDirectory() && hasVersionFile(path.join(dir, subs[0].name))) return path.join(dir, subs[0].name);
  throw new ValidationError(
    `not a Moodle package: no version.php at its root or in its single top folder (found ${subs.slice(0, 5).map((s) => s.name).join(", ") || "nothing"})`,
    "source",
  );
}

/** The release's numbers: "4.5.5 (Build: 20250613)" → "4.5.5", "4.5+ (Build…)" → "4.5.0", "5.1dev" → "5.1.0". */
export function releaseNumber(release: string): string | null {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?/.exec(release);
  return m ? `${m[1]}.${Number(m[2])}.${Number(m[3] ?? 0)}` : null;
}
