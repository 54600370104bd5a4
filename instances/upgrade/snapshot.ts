import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { writeExportArchive } from "../archive";
import { dumpTo } from "../db";
import { newSnapshotId, snapDir } from "../snapshots";
import { readRecord } from "../store";

/**
 * A snapshot written inside an operation the caller holds. createSnapshot cannot be used there: it
 * runs an export, which is an operation of its own and would find the instance busy. The archive
 * is exportInstance's (instances/archive.ts writeExportArchive), so `snapshot list|restore` see it.
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
    await writeExportArchive(name, rec, dump, file, "snapshot");
    return { id, bytes: fs.statSync(file).size };
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}
