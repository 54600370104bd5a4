import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import tarFs from "tar-fs";
import { ARCHIVE_FORMAT } from "../archive";
import { dumpTo } from "../db";
import { SKIP_MOODLEDATA } from "../seed";
import { newSnapshotId, snapDir } from "../snapshots";
import { dataDir, instanceDir, readRecord } from "../store";

/**
 * A snapshot written inside an operation the caller holds. createSnapshot cannot be used there: it
 * runs an export, which is an operation of its own and would find the instance busy. The archive
 * is the same as exportInstance's (instances/archive.ts), so `snapshot list|restore` see it.
 * TODO: share the writer with archive.ts once that file can take an operation from its caller.
 */
export async function writeSnapshot(name: string, label: string): Promise<{ id: string; bytes: number }> {
  const rec = await readRecord(name);
  const id = newSnapshotId(label);
  await fsp.mkdir(snapDir(name), { recursive: true, mode: 0o700 });
  const file = path.join(snapDir(name), `${id}.tar.gz`);
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), "mdind-snapshot-"));
  try {
    const dump = path.join(work, "db.dump");
    await dumpTo(name, rec.spec, dump);
    const pack = tar.pack();
    // The archive is drained from the start: an entry bigger than the pack's buffer (a real
    // Moodle's dump is megabytes) would otherwise wait forever for a reader.
    const out = fs.createWriteStream(`${file}.partial`, { mode: 0o600 });
    const done = pipeline(pack, createGzip({ level: 1 }), out);
    done.catch(() => undefined); // awaited below; this only keeps an early failure from going unhandled
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
          ignore: (n: string) => prefix === "moodledata" && SKIP_MOODLEDATA.includes(path.relative(dir, n).split(path.sep)[0]),
          map: (h: tarFs.Headers) => ({ ...h, name: `${prefix}/${h.name}` }),
        });
        p.on("error", reject);
      });
    }
    pack.finalize();
    await done;
    await fsp.rename(`${file}.partial`, file);
    return { id, bytes: fs.statSync(file).size };
  } catch (e) {
    await fsp.rm(`${file}.partial`, { force: true });
    throw e;
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}
