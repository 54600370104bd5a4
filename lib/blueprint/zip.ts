import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import yauzl from "yauzl";
import { AppError, ValidationError } from "../errors";
import { openDirInside, removeIn } from "../nofollow";
import {
  componentFromVersionPhp,
  guessPluginFromFolder,
  pluginInstallDir,
  pluginTypeDir,
  type MoodleLayout,
} from "./plugins";
import { safeRelativePath } from "./safe-path";

/**
 * ZIP handling for untrusted archives (blueprint bundles, plugin ZIPs). Everything is checked from the
 * central directory before a single byte is written: names (zip-slip, absolute, backslash, NUL), entry
 * types (symlinks and devices refused), encryption, duplicates, entry count and total uncompressed size
 * (zip bombs). While extracting, bytes are counted again, because declared sizes are attacker-controlled.
 */

export interface ZipLimits {
  /** Cap on the sum of uncompressed sizes. */
  maxBytes: number;
  maxEntries: number;
}

export const DEFAULT_ZIP_LIMITS: Readonly<ZipLimits> = Object.freeze({ maxBytes: 512 * 1024 * 1024, maxEntries: 20_000 });

export interface ZipEntryInfo {
  /** Normalised path, without a trailing slash for directories. */
  name: string;
  isDirectory: boolean;
  /** Declared uncompressed size. */
  size: number;
  entry: yauzl.Entry;
}

export interface OpenZip {
  entries: ZipEntryInfo[];
  /** Read one file entry into memory, refusing more than maxBytes. */
  read(info: ZipEntryInfo, maxBytes: number): Promise<Buffer>;
  /** Raw decompressed stream of one entry; the caller counts bytes. */
  openStream(info: ZipEntryInfo): Promise<NodeJS.ReadableStream>;
  close(): void;
}

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;

/** Finder metadata that macOS puts in ZIPs it creates; never part of what the author meant to ship. */
export const MACOSX_DIR = "__MACOSX";

function zipError(zipLabel: string, e: unknown): AppError {
  if (e instanceof AppError) return e;
  const msg = (e as Error)?.message ?? String(e);
  // yauzl's own file-name validation (strictFileNames) reports zip-slip, absolute and backslash names.
  if (/^(invalid relative path|absolute path|invalid characters in fileName)/.test(msg)) {
    return new ValidationError(`${zipLabel}: unsafe entry name (${msg})`);
  }
  return new ValidationError(`${zipLabel}: not a usable ZIP archive: ${msg}`);
}

/** Open and fully validate a ZIP's directory. Throws ValidationError describing the first problem. */
export async function openZipChecked(zipPath: string, limits: Partial<ZipLimits> = {}, label = path.basename(zipPath)): Promise<OpenZip> {
  const lim = { ...DEFAULT_ZIP_LIMITS, ...limits };
  let zip: yauzl.ZipFile;
  try {
    // strictFileNames makes yauzl refuse backslashes instead of quietly turning them into slashes.
    zip = await yauzl.openPromise(zipPath, { lazyEntries: true, autoClose: false, strictFileNames: true, validateEntrySizes: true, decodeStrings: true });
  } catch (e) {
    throw zipError(label, e);
  }
  const entries: ZipEntryInfo[] = [];
  try {
    if (zip.entryCount > lim.maxEntries) {
      throw new ValidationError(`${label}: has ${zip.entryCount} entries; the limit is ${lim.maxEntries}`);
    }
    const seen = new Set<string>();
    let total = 0;
    for await (const entry of zip.eachEntry()) {
      if (entries.length >= lim.maxEntries) throw new ValidationError(`${label}: more than ${lim.maxEntries} entries`);
      const raw = entry.fileName;
      const isDirectory = raw.endsWith("/");
      const name = safeRelativePath(isDirectory ? raw.slice(0, -1) : raw, `${label}: entry ${JSON.stringify(raw)}`);
      const mode = (entry.externalFileAttributes >>> 16) & S_IFMT;
      if (mode === S_IFLNK) throw new ValidationError(`${label}: entry ${JSON.stringify(raw)} is a symbolic link; links are not allowed`);
      if (mode !== 0 && mode !== S_IFREG && mode !== S_IFDIR) {
        throw new ValidationError(`${label}: entry ${JSON.stringify(raw)} is a special file (not a file or folder)`);
      }
      if (entry.isEncrypted()) throw new ValidationError(`${label}: entry ${JSON.stringify(raw)} is encrypted`);
      if (seen.has(name)) throw new ValidationError(`${label}: entry ${JSON.stringify(name)} appears twice`);
      seen.add(name);
      total += entry.uncompressedSize;
      if (total > lim.maxBytes) throw new ValidationError(`${label}: unpacks to more than ${lim.maxBytes} bytes (limit)`);
      entries.push({ name, isDirectory, size: entry.uncompressedSize, entry });
    }
  } catch (e) {
    zip.close();
    throw zipError(label, e);
  }

  // A file entry "a" and an entry "a/b" cannot both exist on disk; refuse rather than pick one.
  const files = new Set(entries.filter((e) => !e.isDirectory).map((e) => e.name));
  for (const e of entries) {
    const parts = e.name.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      if (files.has(parent)) {
        zip.close();
        throw new ValidationError(`${label}: ${JSON.stringify(parent)} is both a file and a folder`);
      }
    }
  }

  return {
    entries,
    read: async (info, maxBytes) => {
      if (info.isDirectory) throw new ValidationError(`${label}: ${info.name} is a folder`);
      if (info.size > maxBytes) throw new ValidationError(`${label}: ${info.name} is larger than the ${maxBytes}-byte limit`);
      try {
        const stream = await zip.openReadStreamPromise(info.entry);
        const chunks: Buffer[] = [];
        let n = 0;
        for await (const chunk of stream as AsyncIterable<Buffer>) {
          n += chunk.length;
          if (n > maxBytes) {
            stream.destroy();
            throw new ValidationError(`${label}: ${info.name} is larger than the ${maxBytes}-byte limit`);
          }
          chunks.push(chunk);
        }
        return Buffer.concat(chunks, n);
      } catch (e) {
        throw zipError(label, e);
      }
    },
    openStream: (info) => zip.openReadStreamPromise(info.entry),
    close: () => zip.close(),
  };
}

export interface ExtractOptions extends Partial<ZipLimits> {
  /** If set, every entry must sit under one of these top-level folders. */
  allowedTopDirs?: string[];
}

export interface ExtractResult {
  /** Extracted files, relative to destDir. */
  files: string[];
  bytes: number;
}

/**
 * Extract a ZIP into destDir without letting it write anywhere else. The whole archive is validated
 * first; files are created with O_EXCL (never following or overwriting something already there), plain
 * permissions, and a running byte count against the cap. __MACOSX metadata is skipped.
 */
export async function extractZipSafe(zipPath: string, destDir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const label = path.basename(zipPath);
  const maxBytes = opts.maxBytes ?? DEFAULT_ZIP_LIMITS.maxBytes;
  const zip = await openZipChecked(zipPath, { maxBytes, maxEntries: opts.maxEntries }, label);
  try {
    const wanted = zip.entries.filter((e) => e.name.split("/")[0] !== MACOSX_DIR);
    if (opts.allowedTopDirs) {
      const allowed = new Set(opts.allowedTopDirs);
      for (const e of wanted) {
        const top = e.name.split("/")[0];
        if (!allowed.has(top) || (!e.isDirectory && !e.name.includes("/"))) {
          throw new ValidationError(`${label}: entry ${JSON.stringify(e.name)} is outside the allowed folder(s) ${opts.allowedTopDirs.join(", ")}`);
        }
      }
    }
    const existed = await fs.stat(destDir).then(() => true, () => false);
    await fs.mkdir(destDir, { recursive: true });
    // Writes go through destDir as given (it may be a pinned /proc/<pid>/fd/<n> folder, lib/nofollow);
    // its real path only anchors the check that every folder made stays inside it.
    const root = { io: destDir, real: await fs.realpath(destDir) };
    const state = { files: [] as string[], bytes: 0 };
    try {
      for (const e of wanted) await extractEntry(zip, e, root, label, maxBytes, state);
    } catch (err) {
      // Sizes can only be proven while inflating, so a bomb is caught half-way: take back what we wrote.
      if (existed) await Promise.all(state.files.map((f) => fs.rm(path.join(root.io, f), { force: true })));
      else await fs.rm(root.real, { recursive: true, force: true });
      throw err;
    }
    return state;
  } finally {
    zip.close();
  }
}

interface ExtractRoot {
  /** The path writes go through. */
  io: string;
  /** Its real path, for the inside check. */
  real: string;
}

async function ensureDirInside(root: ExtractRoot, rel: string, label: string): Promise<void> {
  const dir = path.join(root.io, rel);
  await fs.mkdir(dir, { recursive: true, mode: 0o755 });
  // destDir may already contain things (we never create links, but someone else might have).
  const real = await fs.realpath(dir);
  if (real !== root.real && !real.startsWith(root.real + path.sep)) {
    throw new ValidationError(`${label}: ${JSON.stringify(rel)} resolves outside the destination`);
  }
}

async function extractEntry(
  zip: OpenZip,
  e: ZipEntryInfo,
  root: ExtractRoot,
  label: string,
  maxBytes: number,
  state: { files: string[]; bytes: number },
): Promise<void> {
  if (e.isDirectory) {
    await ensureDirInside(root, e.name, label);
    return;
  }
  const parent = path.posix.dirname(e.name);
  if (parent !== ".") await ensureDirInside(root, parent, label);
  const target = path.join(root.io, e.name);
  const rel = path.relative(root.io, target);
  if (rel.startsWith("..") || path.isAbsolute(rel)) throw new ValidationError(`${label}: ${JSON.stringify(e.name)} escapes the destination`);
  // O_EXCL: never overwrite, and never follow a link someone planted at the target.
  let out: fs.FileHandle;
  try {
    out = await fs.open(target, "wx", 0o644);
  } catch (err) {
    if ((err as NodeJS.ErrnoException)?.code === "EEXIST") throw new ValidationError(`${label}: ${JSON.stringify(e.name)} already exists in the destination`);
    throw err;
  }
  state.files.push(e.name);
  let n = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      n += chunk.length;
      if (n > e.size || state.bytes + n > maxBytes) {
        cb(new ValidationError(`${label}: ${e.name} unpacks to more than declared or over the ${maxBytes}-byte limit`));
        return;
      }
      cb(null, chunk);
    },
  });
  try {
    const stream = await zip.openStream(e);
    await pipeline(stream, counter, out.createWriteStream());
  } catch (err) {
    throw zipError(label, err);
  } finally {
    await out.close().catch(() => undefined);
  }
  state.bytes += n;
}

export interface PluginInstallOptions extends Partial<ZipLimits> {
  layout: MoodleLayout;
  /** Plugin type and name when known; otherwise read from version.php or the folder name. */
  type?: string;
  name?: string;
  /** Replace an existing plugin folder (an upgrade). Without it an existing folder is an error. */
  replace?: boolean;
}

export interface PluginInstallResult {
  type: string;
  name: string;
  component: string;
  /** Folder the plugin now lives in, relative to the code root (e.g. public/local/foo). */
  dir: string;
  files: number;
}

/**
 * Install a plugin ZIP into a Moodle code tree. The ZIP must hold one top folder (GitHub archives
 * and plugin-directory downloads both do); its content lands in exactly <type dir>/<name> and nowhere
 * else. Type and name come from the caller, then version.php's $plugin->component, then the folder name.
 */
export async function installPluginZip(zipPath: string, codeRoot: string, opts: PluginInstallOptions): Promise<PluginInstallResult> {
  const label = path.basename(zipPath);
  const zip = await openZipChecked(zipPath, opts, label);
  let top: string;
  let fromVersion: { type: string; name: string } | null = null;
  try {
    const wanted = zip.entries.filter((e) => e.name.split("/")[0] !== MACOSX_DIR);
    const tops = new Set(wanted.map((e) => e.name.split("/")[0]));
    const rootFiles = wanted.filter((e) => !e.isDirectory && !e.name.includes("/"));
    if (tops.size !== 1 || rootFiles.length > 0) {
      throw new ValidationError(`${label}: a plugin ZIP must contain exactly one top-level folder (found ${[...tops].slice(0, 5).join(", ") || "nothing"})`);
    }
    top = [...tops][0];
    const version = wanted.find((e) => e.name === `${top}/version.php`);
    if (!version) throw new ValidationError(`${label}: ${top}/version.php is missing; this is not a Moodle plugin`);
    fromVersion = componentFromVersionPhp((await zip.read(version, 1024 * 1024)).toString("utf8"));
  } finally {
    zip.close();
  }

  const guess = guessPluginFromFolder(top);
  const type = opts.type ?? fromVersion?.type ?? guess?.type;
  const name = opts.name ?? fromVersion?.name ?? guess?.name;
  if (!type || !name) throw new ValidationError(`${label}: cannot tell the plugin type and name; give pluginType and pluginName (or component)`);
  if (fromVersion && (fromVersion.type !== type || fromVersion.name !== name)) {
    throw new ValidationError(`${label}: version.php declares ${fromVersion.type}_${fromVersion.name}, not ${type}_${name}`);
  }
  const dir = pluginInstallDir(type, name, opts.layout);
  // The code tree is writable by the instance's containers: its folders are opened without
  // following links and pinned (lib/nofollow), so a planted link cannot send the plugin, or the
  // removal of the one it replaces, anywhere outside the tree.
  const typeDir = await openDirInside(codeRoot, pluginTypeDir(type, opts.layout), { create: true });
  // Stage next to the target so the final move is a rename on the same filesystem; 0700 keeps
  // the container's user out of it while it fills.
  const stagingName = `.mdind-staging-${randomBytes(6).toString("hex")}`;
  try {
    await fs.mkdir(path.join(typeDir.path, stagingName), { mode: 0o700 });
    const staging = await openDirInside(typeDir.path, stagingName);
    try {
      const res = await extractZipSafe(zipPath, staging.path, { ...opts, allowedTopDirs: [top] });
      const target = path.join(typeDir.path, name);
      const exists = await fs.lstat(target).then(() => true, () => false);
      if (exists) {
        if (!opts.replace) throw new ValidationError(`${dir} already exists; pass replace to overwrite it`);
        // Moved into the staging folder, it goes with it below (rm never follows a link).
        await fs.rename(target, path.join(staging.path, ".replaced"));
      }
      await fs.rename(path.join(staging.path, top), target);
      return { type, name, component: `${type}_${name}`, dir, files: res.files.length };
    } finally {
      await staging.close();
    }
  } finally {
    await removeIn(typeDir, stagingName).catch(() => undefined);
    await typeDir.close();
  }
}
