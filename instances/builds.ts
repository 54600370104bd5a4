import fs from "node:fs/promises";
import path from "node:path";
import type { Readable } from "node:stream";
import { paths } from "../lib/config";
import { ConflictError, ValidationError } from "../lib/errors";
import { packagePaths } from "../lib/moodle/download";
import { checkGitRef, checkGitUrl } from "../lib/moodle/git";
import {
  addBuild, addFromGit, addUploaded, defaultRef, downloadBuild, getBuild, listBuilds, removeBuild, scanSources,
  type BuildInfo, type BuildProgress, type OnProgress,
} from "../lib/moodle/library";
import { treeDir } from "../lib/moodle/paths";
import { MOODLE_CHANNEL, runOperation, type Operation } from "../lib/operations";
import { dropSpares } from "./spares";
import type { InstanceSpec } from "./spec";
import { listRecords } from "./store";
import { templateKey } from "./templates";

/**
 * The Moodle library as instances see it: which instances use which build (their record's
 * source.buildId), removal only of unused builds, and the long additions (add, upload, download)
 * as operations on the reserved "_moodle" channel, so the dashboard's event stream and the
 * operation log show their progress like any instance operation.
 */
export interface BuildUsage extends BuildInfo {
  usedBy: string[];
}

export async function listBuildsWithUsage(): Promise<BuildUsage[]> {
  const [builds, records] = await Promise.all([listBuilds(), listRecords()]);
  return builds.map((b) => ({ ...b, usedBy: records.filter((r) => r.source.buildId === b.id).map((r) => r.name) }));
}

/** Entries of the sources folder (and MOODLE_SOURCE) that are not builds, and why. */
export async function skippedSources(): Promise<{ entry: string; error: string }[]> {
  return (await scanSources()).skipped.map((s) => ({ entry: path.basename(s.entry), error: s.error }));
}

/** Remove a build no instance uses, with its spare trees and templates. */
export async function removeBuildChecked(id: string): Promise<void> {
  const b = await getBuild(id);
  const users = (await listRecords()).filter((r) => r.source.buildId === id).map((r) => r.name);
  if (users.length) throw new ConflictError(`Moodle build ${id} is used by ${users.join(", ")}: remove ${users.length > 1 ? "them" : "it"} first`, "id");
  await removeBuild(id);
  await dropSpares(treeDir(id));
  await dropTemplates(b);
}

/** Templates are keyed "<branch>-<hash of origin, release, version>-<db>-<version>"; the build id is the origin. */
async function dropTemplates(b: BuildInfo): Promise<void> {
  const stub = { db: { engine: "postgres", version: "0" } } as InstanceSpec;
  const key = templateKey({ source: { branch: b.branch, release: b.release, origin: b.id, publicDir: b.publicDir }, spec: stub }, b.version);
  const prefix = key.slice(0, key.length - "postgres-0".length);
  const dir = path.join(paths.cache(), "templates");
  for (const e of await fs.readdir(dir).catch(() => [] as string[])) {
    if (e.startsWith(prefix)) await fs.rm(path.join(dir, e), { recursive: true, force: true });
  }
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;

/** One line for the log: bytes and rate for transfers, the phase otherwise. */
export function progressLine(p: BuildProgress): string {
  const pct = p.total && p.bytes !== undefined ? ` (${Math.floor((p.bytes / p.total) * 100)} %)` : "";
  switch (p.phase) {
    case "upload":
    case "download":
      return `${p.phase === "upload" ? "received" : "downloaded"} ${mib(p.bytes ?? 0)}${p.total ? ` of ${mib(p.total)}` : ""}${pct}, ${mib(p.rate ?? 0)}/s`;
    case "extract":
      return `unpacking${pct}`;
    case "copy":
      return "copying the tree into the library";
    case "clone":
      return "cloning";
    case "check":
      return "checking the tree and making it read-only";
  }
}

/** Progress as log lines, at most one a second per phase (plus each phase's first and last), so the replay buffer keeps its room. */
function throttled(op: Operation): OnProgress {
  let phase = "";
  let last = 0;
  let said = "";
  let finished = "";
  return (p) => {
    const now = Date.now();
    const final = p.total !== undefined && p.total !== null && p.bytes === p.total;
    const line = progressLine(p);
    if (line === said || (final && finished === p.phase)) return;
    if (p.phase !== phase || final || now - last >= 1000) {
      phase = p.phase;
      last = now;
      said = line;
      if (final) finished = p.phase;
      op.log(line);
    }
  };
}

function libraryOp(name: string, fn: (progress: OnProgress) => Promise<BuildInfo>): Promise<BuildInfo> {
  return runOperation(MOODLE_CHANNEL, name, async (op) => {
    const b = await op.step(name, () => fn(throttled(op)));
    // The remote CLI reads the id from this line (the operation's events carry no result).
    op.log(`${b.id}: Moodle ${b.release} (branch ${b.branch}, ${b.files} files, ${mib(b.sizeBytes)}${b.vendor ? "" : ", no vendor/"})`);
    return b;
  });
}

export function addBuildOp(file: string): Promise<BuildInfo> {
  return libraryOp("add", (p) => addBuild(file, "disk", p));
}

export function uploadBuildOp(stream: Readable, filename: string, maxBytes: number): Promise<BuildInfo> {
  return libraryOp("upload", (p) => addUploaded(stream, filename, maxBytes, p));
}

export interface DownloadRequest {
  version: string;
  git?: string;
  ref?: string;
}

/** Refuse a bad request before any operation starts (the edge answers 422, not a failed operation). */
export function checkDownload(req: DownloadRequest): Required<Pick<DownloadRequest, "version">> & { git?: { url: string; ref: string } } {
  packagePaths(req.version);
  if (req.ref !== undefined && req.git === undefined) throw new ValidationError("ref: a ref needs a git repository URL", "ref");
  if (req.git === undefined) return { version: req.version };
  return { version: req.version, git: { url: checkGitUrl(req.git), ref: checkGitRef(req.ref ?? defaultRef(req.version)) } };
}

export function downloadBuildOp(req: DownloadRequest): Promise<BuildInfo> {
  const r = checkDownload(req);
  return libraryOp("download", (p) => (r.git ? addFromGit(r.git.url, r.git.ref, p, r.version) : downloadBuild(r.version, p)));
}
