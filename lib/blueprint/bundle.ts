import fs from "node:fs/promises";
import path from "node:path";
import { ValidationError } from "../errors";
import { parseBlueprint, type ParsedBlueprint } from "./parse";
import { resolvePolicy, type BlueprintPolicy } from "./policy";
import { ResourceResolver, type BundleFiles, type NetOptions } from "./resources";
import { safeRelativePath } from "./safe-path";
import { MACOSX_DIR, openZipChecked, type OpenZip, type ZipLimits } from "./zip";

/**
 * A blueprint bundle: a folder or ZIP holding blueprint.json plus the files its `bundled` resources name.
 * blueprint.json may sit at the root or one folder down (what you get from zipping a folder); macOS
 * metadata is ignored; more than one candidate is refused rather than guessed.
 */
export interface Bundle {
  kind: "directory" | "zip" | "file";
  parsed: ParsedBlueprint;
  /** Where blueprint.json was found, relative to the bundle root ("" = root). */
  blueprintDir: string;
  /** Bundled files, relative to blueprint.json's folder. */
  files: BundleFiles;
  /** A resolver for this run: bundle files, the bundle's policy, one cache. */
  resolver(opts?: { net?: NetOptions }): ResourceResolver;
  close(): Promise<void>;
}

export interface LoadBundleOptions extends Partial<ZipLimits> {
  policy?: Partial<BlueprintPolicy>;
}

export const BLUEPRINT_FILE = "blueprint.json";

/** Open a bundle folder, a bundle ZIP, or a lone blueprint.json (which then has no bundled files). */
export async function loadBundle(p: string, opts: LoadBundleOptions = {}): Promise<Bundle> {
  const policy = resolvePolicy(opts.policy);
  let st;
  try {
    st = await fs.stat(p);
  } catch {
    throw new ValidationError(`blueprint bundle not found: ${p}`);
  }
  if (st.isDirectory()) return loadDirectoryBundle(p, policy);
  if (!st.isFile()) throw new ValidationError(`${p} is neither a folder nor a file`);
  const fh = await fs.open(p, "r");
  const head = Buffer.alloc(4);
  try {
    await fh.read(head, 0, 4, 0);
  } finally {
    await fh.close();
  }
  if (head[0] === 0x50 && head[1] === 0x4b) return loadZipBundle(p, policy, opts);
  if (st.size > policy.maxBlueprintBytes) throw new ValidationError(`${path.basename(p)} is larger than the ${policy.maxBlueprintBytes}-byte limit`);
  const parsed = parseBlueprint(await fs.readFile(p, "utf8"), { policy, source: path.basename(p) });
  const files: BundleFiles = {
    readFile: async (rel) => {
      throw new ValidationError(`bundled resource '${rel}' needs a blueprint bundle (a folder or ZIP), not a bare blueprint.json`);
    },
  };
  return makeBundle("file", parsed, "", files, policy, async () => undefined);
}

function makeBundle(
  kind: Bundle["kind"],
  parsed: ParsedBlueprint,
  blueprintDir: string,
  files: BundleFiles,
  policy: BlueprintPolicy,
  close: () => Promise<void>,
): Bundle {
  return {
    kind,
    parsed,
    blueprintDir,
    files,
    resolver: (o = {}) => new ResourceResolver({ policy, bundle: files, net: o.net }),
    close,
  };
}

async function loadDirectoryBundle(dir: string, policy: BlueprintPolicy): Promise<Bundle> {
  const root = await fs.realpath(dir);
  const candidates: string[] = [];
  const top = await fs.readdir(root, { withFileTypes: true });
  for (const d of top) {
    if (d.name === BLUEPRINT_FILE && (d.isFile() || d.isSymbolicLink())) candidates.push("");
    if (d.isDirectory() && d.name !== MACOSX_DIR) {
      const st = await fs.lstat(path.join(root, d.name, BLUEPRINT_FILE)).catch(() => null);
      if (st) candidates.push(d.name);
    }
  }
  const blueprintDir = pickCandidate(candidates, path.basename(dir));
  const base = path.join(root, blueprintDir);
  const files: BundleFiles = { readFile: (rel, max) => readInside(base, rel, max) };
  const text = (await readInside(base, BLUEPRINT_FILE, policy.maxBlueprintBytes)).toString("utf8");
  const parsed = parseBlueprint(text, { policy, source: path.posix.join(blueprintDir, BLUEPRINT_FILE) });
  return makeBundle("directory", parsed, blueprintDir, files, policy, async () => undefined);
}

function pickCandidate(candidates: string[], label: string): string {
  if (candidates.length === 0) {
    throw new ValidationError(`${label}: no ${BLUEPRINT_FILE} at the top level or one folder down`);
  }
  if (candidates.length > 1) {
    const names = candidates.map((c) => (c ? `${c}/${BLUEPRINT_FILE}` : BLUEPRINT_FILE)).sort();
    throw new ValidationError(`${label}: more than one ${BLUEPRINT_FILE} (${names.join(", ")}); a bundle must have exactly one`);
  }
  return candidates[0];
}

/**
 * Read a bundled file by relative path, refusing anything that escapes `base` or goes through a symlink
 * (a link inside a bundle is as good as "..": it can point at /etc/passwd or the host's secrets).
 */
async function readInside(base: string, rel: string, maxBytes: number): Promise<Buffer> {
  const clean = safeRelativePath(rel, "bundled path");
  const full = path.join(base, ...clean.split("/"));
  let real: string;
  try {
    real = await fs.realpath(full);
  } catch {
    throw new ValidationError(`bundled file '${clean}' is not in the bundle`);
  }
  if (real !== full) throw new ValidationError(`bundled file '${clean}' is or goes through a symbolic link, which bundles may not contain`);
  const st = await fs.lstat(real);
  if (!st.isFile()) throw new ValidationError(`bundled path '${clean}' is not a regular file`);
  if (st.size > maxBytes) throw new ValidationError(`bundled file '${clean}' is larger than the ${maxBytes}-byte limit`);
  const buf = await fs.readFile(real);
  if (buf.length > maxBytes) throw new ValidationError(`bundled file '${clean}' is larger than the ${maxBytes}-byte limit`);
  return buf;
}

const DEFAULT_BUNDLE_ZIP_LIMITS: ZipLimits = { maxBytes: 256 * 1024 * 1024, maxEntries: 10_000 };

async function loadZipBundle(zipPath: string, policy: BlueprintPolicy, opts: Partial<ZipLimits>): Promise<Bundle> {
  const label = path.basename(zipPath);
  const zip: OpenZip = await openZipChecked(
    zipPath,
    { maxBytes: opts.maxBytes ?? DEFAULT_BUNDLE_ZIP_LIMITS.maxBytes, maxEntries: opts.maxEntries ?? DEFAULT_BUNDLE_ZIP_LIMITS.maxEntries },
    label,
  );
  try {
    const byName = new Map(zip.entries.filter((e) => !e.isDirectory && e.name.split("/")[0] !== MACOSX_DIR).map((e) => [e.name, e]));
    const candidates: string[] = [];
    for (const name of byName.keys()) {
      const parts = name.split("/");
      if (parts[parts.length - 1] !== BLUEPRINT_FILE) continue;
      if (parts.length === 1) candidates.push("");
      else if (parts.length === 2) candidates.push(parts[0]);
    }
    const blueprintDir = pickCandidate(candidates, label);
    const files: BundleFiles = {
      readFile: async (rel, max) => {
        const clean = safeRelativePath(rel, "bundled path");
        const key = blueprintDir ? `${blueprintDir}/${clean}` : clean;
        const entry = byName.get(key);
        if (!entry) throw new ValidationError(`bundled file '${clean}' is not in ${label}`);
        return zip.read(entry, max);
      },
    };
    const text = (await files.readFile(BLUEPRINT_FILE, policy.maxBlueprintBytes)).toString("utf8");
    const parsed = parseBlueprint(text, { policy, source: `${label}:${blueprintDir ? `${blueprintDir}/` : ""}${BLUEPRINT_FILE}` });
    return makeBundle("zip", parsed, blueprintDir, files, policy, async () => zip.close());
  } catch (e) {
    zip.close();
    throw e;
  }
}
