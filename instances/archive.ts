import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import os from "node:os";
import { pipeline } from "node:stream/promises";
import { createGzip, createGunzip } from "node:zlib";
import tar from "tar-stream";
import tarFs from "tar-fs";
import { ValidationError } from "../lib/errors";
import { checkArchiveEntry, type TarHeaderLike } from "../lib/archive-entry";
import { runOperation, type Operation } from "../lib/operations";
import { createInstance } from "./create";
import { parseCreateInput } from "./spec";
import { dumpTo } from "./db";
import { SKIP_MOODLEDATA } from "./seed";
import { dataDir, instanceDir, readRecord, type InstanceRecord } from "./store";
import { validateName } from "../lib/names";

/**
 * Clone, export and import. An export is one .tar.gz:
 *   manifest.json   format, spec, source (no secrets: the importing host makes new ones)
 *   db.dump         pg_dump -Fc, or SQL for MariaDB
 *   code/ moodledata/ config/
 * Import checks every entry before writing it: regular files and directories only, no absolute
 * paths, no "..", only those top-level names, and size caps against archive bombs.
 */
export const ARCHIVE_FORMAT = 1;
const TOP = new Set(["manifest.json", "db.dump", "code", "moodledata", "config"]);
const MAX_ENTRY_BYTES = 4 * 1024 ** 3;
const MAX_TOTAL_BYTES = 20 * 1024 ** 3;
const MAX_ENTRIES = 500_000;

export async function cloneInstance(from: string, to: string, onOperation?: (o: Operation) => void): Promise<InstanceRecord> {
  validateName(from);
  const name = validateName(to);
  const src = await readRecord(from);
  // The source keeps serving: its DB is dumped logically and its files are only read.
  return createInstance(
    parseCreateInput({ name, moodle: src.spec.moodle, php: src.spec.php, db: `${src.spec.db.engine}:${src.spec.db.version}`, web: src.spec.web.server,
      webVersion: src.spec.web.version, siteName: `${src.spec.siteName} (clone)`, profile: src.spec.profile }),
    { seed: { kind: "clone", from }, opName: "clone", onOperation },
  );
}

/**
 * Write an instance's export archive (manifest, DB dump, code, moodledata, config) to `file`, via
 * `.partial` and a rename. Exports and snapshots share it. An export leaves out code/config.php,
 * which holds the database password and is written afresh by whoever imports it; a snapshot, kept
 * beside the instance and restored in place, keeps it (`kind: "snapshot"`). The archive is drained
 * from the start: an entry bigger than the pack's buffer (a real Moodle's dump is megabytes) would
 * otherwise wait forever for a reader.
 */
export async function writeExportArchive(name: string, rec: InstanceRecord, dump: string, file: string, kind: "export" | "snapshot" = "export"): Promise<void> {
  const pack = tar.pack();
  const out = fs.createWriteStream(`${file}.partial`, { mode: 0o600 });
  const done = pipeline(pack, createGzip({ level: 1 }), out);
  done.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
  try {
    const manifest = { format: ARCHIVE_FORMAT, exportedAt: new Date().toISOString(), name, spec: rec.spec, source: rec.source };
    pack.entry({ name: "manifest.json" }, JSON.stringify(manifest, null, 2));
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry({ name: "db.dump", size: fs.statSync(dump).size }, (e) => (e ? reject(e) : resolve()));
      fs.createReadStream(dump).pipe(entry);
    });
    const dirs: [string, string][] = [
      ["code", dataDir(name, "code")],
      ["moodledata", dataDir(name, "moodledata")],
      ["config", path.join(instanceDir(name), "config")],
    ];
    for (const [prefix, dir] of dirs) {
      await new Promise<void>((resolve, reject) => {
        const p = tarFs.pack(dir, {
          pack,
          finalize: false,
          finish: () => resolve(),
          ignore: (n: string) => {
            const rel = path.relative(dir, n);
            if (prefix === "code") return kind === "export" && rel === "config.php";
            return prefix === "moodledata" && SKIP_MOODLEDATA.includes(rel.split(path.sep)[0]);
          },
          map: (h: tarFs.Headers) => ({ ...h, name: `${prefix}/${h.name}` }),
        });
        p.on("error", reject);
      });
    }
    pack.finalize();
    await done;
    await fsp.rename(`${file}.partial`, file);
  } catch (e) {
    pack.destroy();
    await fsp.rm(`${file}.partial`, { force: true });
    throw e;
  }
}

export async function exportInstance(
  name: string,
  file: string,
  log: (l: string) => void = () => undefined,
  kind: "export" | "snapshot" = "export",
): Promise<{ file: string; bytes: number }> {
  validateName(name);
  const rec = await readRecord(name);
  return runOperation(name, "export", async (op) => {
    const work = await fsp.mkdtemp(path.join(os.tmpdir(), "mdind-export-"));
    try {
      const dump = path.join(work, "db.dump");
      await op.step("database", () => dumpTo(name, rec.spec, dump));
      await op.step("archive", () => writeExportArchive(name, rec, dump, file, kind));
      const bytes = fs.statSync(file).size;
      log(`exported ${name} to ${file} (${(bytes / 1024 / 1024).toFixed(1)} MiB)`);
      return { file, bytes };
    } finally {
      await fsp.rm(work, { recursive: true, force: true });
    }
  });
}

/** Reject any entry that is not a plain file or directory inside the allowed top-level names. */
export function checkEntry(h: TarHeaderLike): string {
  const rel = checkArchiveEntry(h, MAX_ENTRY_BYTES);
  if (!TOP.has(rel.split("/")[0])) throw new ValidationError(`archive entry '${h.name.slice(0, 80)}' is not part of an instance export`, "archive");
  return rel;
}

/** Unpack an export into `dest`, checking every entry first; nothing is written outside `dest`. */
export async function unpackExport(file: string, dest: string): Promise<void> {
  let total = 0;
  let count = 0;
  const extract = tar.extract();
  const root = path.resolve(dest);
  extract.on("entry", (header, stream, next) => {
    (async () => {
      const rel = checkEntry(header);
      count += 1;
      total += header.size ?? 0;
      if (count > MAX_ENTRIES || total > MAX_TOTAL_BYTES) throw new ValidationError("archive is too large", "archive");
      const target = path.resolve(root, rel);
      if (target !== root && !target.startsWith(root + path.sep)) throw new ValidationError(`archive entry '${rel}' escapes the archive`, "archive");
      if (header.type === "directory") {
        await fsp.mkdir(target, { recursive: true });
        stream.resume();
        return;
      }
      await fsp.mkdir(path.dirname(target), { recursive: true });
      // wx: never follow or overwrite something already there (a planted link, a duplicate entry).
      await pipeline(stream, fs.createWriteStream(target, { flags: "wx", mode: (header.mode ?? 0o644) & 0o755 }));
    })().then(() => next(), (e) => {
      stream.resume();
      extract.destroy(e);
    });
  });
  await pipeline(fs.createReadStream(file), createGunzip(), extract);
}

export async function importInstance(file: string, name: string, onOperation?: (o: Operation) => void): Promise<InstanceRecord> {
  validateName(name);
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), "mdind-import-"));
  try {
    await unpackExport(file, work);
    let manifest: { format?: number; spec?: InstanceRecord["spec"]; source?: InstanceRecord["source"] };
    try {
      manifest = JSON.parse(await fsp.readFile(path.join(work, "manifest.json"), "utf8"));
    } catch {
      throw new ValidationError("archive has no readable manifest.json", "archive");
    }
    if (manifest.format !== ARCHIVE_FORMAT || !manifest.spec || !manifest.source) throw new ValidationError("archive manifest is not a moodle-dind export", "archive");
    for (const need of ["db.dump", "code", "moodledata"]) {
      if (!fs.existsSync(path.join(work, need))) throw new ValidationError(`archive lacks ${need}`, "archive");
    }
    const s = manifest.spec;
    const src = manifest.source;
    return await createInstance(
      parseCreateInput({ name, moodle: s.moodle, php: s.php, db: `${s.db.engine}:${s.db.version}`, web: s.web.server, webVersion: s.web.version, siteName: s.siteName, profile: s.profile }),
      {
        seed: {
          kind: "import",
          dir: work,
          source: { dir: path.join(work, "code"), branch: src.branch, release: src.release, version: src.version ?? "0", publicDir: src.publicDir, origin: `import:${path.basename(file)}` },
        },
        opName: "import",
        onOperation,
      },
    );
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}
