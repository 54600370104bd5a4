import fs from "node:fs/promises";
import fss from "node:fs";
import os from "node:os";
import path from "node:path";
import { NotFoundError, ValidationError } from "../lib/errors";
import { runOperation, type Operation } from "../lib/operations";
import { run } from "../lib/proc";
import { exportInstance, unpackExport } from "./archive";
import { restoreFrom } from "./db";
import { startServices } from "./lifecycle";
import { waitReady } from "./ready";
import { containerName } from "./stack";
import { replacePhpContainers } from "./php";
import { dataDir, instanceDir, readRecord, updateRecord, type InstanceRecord } from "./store";
import { validateName } from "../lib/names";
import { docker } from "../lib/docker";
import { imageRef } from "../lib/images/catalog";

/**
 * Snapshots are exports kept beside the instance (snapshots/<id>.tar.gz): DB, moodledata, config
 * and code, with the record's spec and source in its manifest. Restoring one in place puts all of
 * that back while the instance keeps its N, port and secrets.
 */
const ID_RE = /^[0-9]{8}T[0-9]{6}Z(-[a-z0-9-]{1,32})?$/;
export const snapDir = (name: string) => path.join(instanceDir(name), "snapshots");

/** A sortable, second-precise id with an optional label: 20250101T120000Z-pre-upgrade. */
export function newSnapshotId(label?: string): string {
  if (label !== undefined && !/^[a-z0-9-]{1,32}$/.test(label)) throw new ValidationError("label: 1–32 of a-z, 0-9 and '-'", "label");
  return `${new Date().toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z")}${label ? `-${label}` : ""}`;
}

export async function createSnapshot(name: string, label?: string): Promise<{ id: string; bytes: number }> {
  validateName(name);
  const id = newSnapshotId(label);
  await fs.mkdir(snapDir(name), { recursive: true, mode: 0o700 });
  const { bytes } = await exportInstance(name, path.join(snapDir(name), `${id}.tar.gz`), undefined, "snapshot");
  return { id, bytes };
}

export async function listSnapshots(name: string): Promise<{ id: string; bytes: number; createdAt: string }[]> {
  validateName(name);
  const files = await fs.readdir(snapDir(name)).catch(() => [] as string[]);
  return files
    .filter((f) => f.endsWith(".tar.gz"))
    .map((f) => {
      const st = fss.statSync(path.join(snapDir(name), f));
      return { id: f.replace(/\.tar\.gz$/, ""), bytes: st.size, createdAt: st.mtime.toISOString() };
    })
    .sort((a, b) => b.id.localeCompare(a.id));
}

/**
 * Remove one snapshot. Under the instance's operation lock, so it cannot vanish under a restore
 * (or an upgrade's rollback) that is reading it.
 */
export async function deleteSnapshot(name: string, id: string): Promise<void> {
  validateName(name);
  if (!ID_RE.test(id)) throw new ValidationError("snapshot id is malformed", "id");
  const file = path.join(snapDir(name), `${id}.tar.gz`);
  if (!fss.existsSync(file)) throw new NotFoundError(`no snapshot ${id} of ${name}`);
  await runOperation(name, "snapshot-delete", (op) => op.step("delete", () => fs.rm(file)));
}

export async function restoreSnapshot(name: string, id: string): Promise<void> {
  validateName(name);
  if (!ID_RE.test(id)) throw new ValidationError("snapshot id is malformed", "id");
  if (!fss.existsSync(path.join(snapDir(name), `${id}.tar.gz`))) throw new NotFoundError(`no snapshot ${id} of ${name}`);
  await readRecord(name);
  await runOperation(name, "restore", (op) => restoreSnapshotIn(op, name, id));
}

/**
 * Restore inside an operation the caller already holds (an upgrade's rollback). Besides DB,
 * moodledata, code and config, the record's spec and source go back to the snapshot's, and app
 * and cron are made again when they run another PHP image or are missing, so the site runs the
 * code, config and image it ran then. `code`: a tree set aside before (hard links into its build)
 * to put back instead of the archive's copy.
 */
export async function restoreSnapshotIn(op: Operation, name: string, id: string, opts: { code?: string } = {}): Promise<void> {
  if (!ID_RE.test(id)) throw new ValidationError("snapshot id is malformed", "id");
  const file = path.join(snapDir(name), `${id}.tar.gz`);
  if (!fss.existsSync(file)) throw new NotFoundError(`no snapshot ${id} of ${name}`);
  const rec = await readRecord(name);
  const work = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-restore-"));
  try {
    await op.step("unpack", () => unpackExport(file, work));
    await op.step("stop", async () => {
      for (const s of ["web", "cron", "app"] as const) {
        await docker().getContainer(containerName(name, s)).stop({ t: 10 }).catch(() => undefined);
      }
    });
    await op.step("database", () => restoreFrom(name, rec.spec, path.join(work, "db.dump")));
    await op.step("files", async () => {
      for (const sub of ["moodledata", "code"] as const) {
        const dest = dataDir(name, sub);
        await fs.rm(dest, { recursive: true, force: true });
        if (sub === "code" && opts.code) {
          // Its files are links into a root-owned build: no chown, which would change the build.
          await fs.rename(opts.code, dest);
          continue;
        }
        await fs.rename(path.join(work, sub), dest).catch(async () => run("cp", ["-a", `${path.join(work, sub)}/.`, dest]));
        await run("chown", ["-R", "33:33", dest]);
      }
      const cfg = path.join(instanceDir(name), "config");
      await fs.rm(cfg, { recursive: true, force: true });
      await run("cp", ["-a", path.join(work, "config"), cfg]);
    });
    const back = await op.step("record", async () => {
      const m = JSON.parse(await fs.readFile(path.join(work, "manifest.json"), "utf8")) as { spec?: InstanceRecord["spec"]; source?: InstanceRecord["source"] };
      if (!m.spec || !m.source) return rec;
      return updateRecord(name, { spec: { ...m.spec, name }, source: m.source });
    });
    await op.step("start", async () => {
      // By what runs, not by the record: an upgrade may have switched PHP before it failed.
      const want = imageRef("php", back.spec.php);
      const images = await Promise.all((["app", "cron"] as const).map((s) => docker().getContainer(containerName(name, s)).inspect().then((i) => i.Config.Image, () => null)));
      if (images.some((i) => i !== want)) await replacePhpContainers(back, back.spec);
      await startServices(name, ["app", "web", "cron"]);
      await waitReady(name, back.spec, back.port, ["app", "web"], (l) => op.log(l));
    });
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
