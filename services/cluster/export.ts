import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import tar from "tar-stream";
import { NotFoundError, ValidationError } from "../../lib/errors";
import { validateName } from "../../lib/names";
import { inlineStep, type Operation } from "../../lib/operations";
import { ARCHIVE_FORMAT } from "../../instances/archive";
import { SKIP_MOODLEDATA } from "../../instances/seed";
import type { InstanceRecord } from "../../instances/store";
import os from "node:os";
import { createClusterInstance, dumpOnNode, readInstanceFolder } from "./instances";
import { nodeEngine, requireState, withInstanceLock, type ClusterInstance } from "./state";

/** Folders of a node's instance folder that an export carries, and their names in the archive. */
const CARRIED: readonly [string, string][] = [
  ["data/code/", "code/"],
  ["data/moodledata/", "moodledata/"],
  ["config/", "config/"],
];

/**
 * Where an entry of the node's `NAME/` folder goes in an export archive, or null to leave it out:
 * the live database files, logs, the record (it becomes the manifest), moodledata's caches and
 * sessions, code/config.php (it holds the database password), and anything not plainly inside a
 * carried folder.
 */
export function exportEntryName(name: string, entry: string): string | null {
  const pre = `${name}/`;
  if (!entry.startsWith(pre) || entry.split("/").some((p) => p === ".." || p === ".")) return null;
  const rel = entry.slice(pre.length);
  for (const [from, to] of CARRIED) {
    if (!rel.startsWith(from)) continue;
    const rest = rel.slice(from.length);
    if (to === "moodledata/" && SKIP_MOODLEDATA.includes(rest.split("/")[0])) return null;
    // Moodle's config.php holds the database password; the importing host writes its own.
    if (to === "code/" && rest === "config.php") return null;
    return to + rest;
  }
  return null;
}

/** The node's record is a small JSON file: anything bigger is not one. */
const MAX_RECORD = 1 << 20;

/**
 * The archive header for an entry of the node's folder, or null to leave it out. Built field by
 * field: the node's own PAX records (long or non-ASCII names) would otherwise carry the node path
 * past the new name, and the importer would refuse the archive.
 */
export function exportHeader(name: string, h: tar.Header): Partial<tar.Header> & { name: string } | null {
  const to = exportEntryName(name, h.name);
  if (!to || (h.type !== "file" && h.type !== "directory")) return null;
  return { name: to, type: h.type, mode: h.mode, size: h.type === "file" ? h.size : 0, mtime: h.mtime, uid: h.uid, gid: h.gid };
}

/**
 * Export an instance of the cluster from the node that holds it, in the format `moodle-dind
 * import` reads on any host (instances/archive.ts): the database dumped by its running db task,
 * code, moodledata and config read over the node's engine, and the node's record as the manifest.
 * Written to `file` via `.partial` and a rename, so an interrupted export leaves no archive.
 */
export function exportClusterInstance(nameIn: string, file: string, log: (l: string) => void): Promise<{ file: string; bytes: number; node: string }> {
  const name = validateName(nameIn);
  // Under the instance's cluster lock: a move deleting the old copy mid-read would make a partial archive.
  return withInstanceLock(name, () => exportUnlocked(name, file, log));
}

async function exportUnlocked(name: string, file: string, log: (l: string) => void): Promise<{ file: string; bytes: number; node: string }> {
  const s = await requireState();
  const inst = s.instances[name];
  if (!inst) throw new NotFoundError(`no cluster instance ${name}`);
  // A folder that cannot be made fails here, before a long dump.
  await fsp.mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const engine = await nodeEngine(s, inst.node);
  const dump = await dumpOnNode(engine, inst);
  log(`${name}: database dumped on ${inst.node} (${(dump.length / 1e6).toFixed(1)} MB)`);
  const { stream, done } = await readInstanceFolder(engine, name);
  const partial = `${file}.partial`;
  const extract = tar.extract();
  const pack = tar.pack();
  let record = "";
  let left = 0;
  extract.on("entry", (h, body, next) => {
    if (h.name === `${name}/instance.json`) {
      body.on("data", (d: unknown) => {
        if (record.length < MAX_RECORD) record += String(d);
      });
      body.on("end", next);
      return;
    }
    const header = exportHeader(name, h);
    if (!header) {
      if (h.type !== "file" && h.type !== "directory" && exportEntryName(name, h.name)) left++;
      body.resume();
      body.on("end", next);
      return;
    }
    body.pipe(pack.entry(header, next));
  });
  extract.on("finish", () => {
    try {
      const rec = JSON.parse(record) as Pick<InstanceRecord, "spec" | "source">;
      const manifest = { format: ARCHIVE_FORMAT, exportedAt: new Date().toISOString(), name, spec: rec.spec, source: rec.source };
      pack.entry({ name: "manifest.json", mode: 0o644 }, JSON.stringify(manifest, null, 2));
      pack.entry({ name: "db.dump", mode: 0o600 }, dump);
      pack.finalize();
    } catch {
      pack.destroy(new ValidationError(`${name}'s record on ${inst.node} is missing or unreadable`, "name"));
    }
  });
  const reading = pipeline(stream, extract);
  const writing = pipeline(pack, createGzip({ level: 1 }), fs.createWriteStream(partial, { mode: 0o600 }));
  try {
    await Promise.all([reading, writing]);
    await fsp.rename(partial, file);
  } catch (e) {
    // Either side failing stops both, so neither the node's archive read nor the file stays open.
    for (const x of [stream, extract, pack]) x.destroy();
    await Promise.allSettled([reading, writing]);
    await fsp.rm(partial, { force: true });
    throw e;
  } finally {
    await done();
  }
  if (left) log(`${name}: ${left} link(s) or special file(s) left out (an export carries plain files and folders)`);
  const bytes = (await fsp.stat(file)).size;
  log(`${name}: exported to ${file} (${(bytes / 1e6).toFixed(1)} MB)`);
  return { file, bytes, node: inst.node };
}

/**
 * A clone inside the cluster: `from` exported from its node, then imported as `to` on the node the
 * scheduler places it on (the same path as a new instance, with the archive instead of a fresh
 * site). The source keeps serving; the clone gets its own N, overlay, port and secrets.
 */
export async function cloneClusterInstance(from: string, to: string, log: (l: string) => void, step: Operation["step"] = inlineStep): Promise<ClusterInstance & { seconds: number }> {
  const name = validateName(to);
  const work = await fsp.mkdtemp(path.join(os.tmpdir(), "mdind-cluster-clone-"));
  try {
    const file = path.join(work, `${validateName(from)}.tar.gz`);
    // The clone's database and build are the source's (read before the export, which holds its
    // lock): the images it needs are copied to the nodes first, and its answer is waited for as such.
    const src = (await requireState()).instances[validateName(from)];
    if (!src) throw new NotFoundError(`no cluster instance ${from}`);
    await step(`export ${from}`, () => exportClusterInstance(from, file, log));
    const db = src.db ? `${src.db.engine}:${src.db.version}` : undefined;
    return await step(`create ${name}`, () => createClusterInstance(name, { archive: file, db, moodle: src.moodle }, log));
  } finally {
    await fsp.rm(work, { recursive: true, force: true });
  }
}
