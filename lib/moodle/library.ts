import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { Transform, type Readable, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AppError, ValidationError } from "../errors";
import { REAL_BRANCHES } from "../versions";
import { downloadMoodle, packagePaths } from "./download";
import { archiveKind } from "./extract";
import { cloneBuild } from "./git";
import { BRANCH_RE, BUILD_ID_RE, downloadsDir, libraryDir, RELEASE_RE, UPLOAD_NAME_RE } from "./paths";
import { scanSources } from "./sources";
import {
  checkBuildId, deleteBuild, ingest, matches, readBuild, readBuilds, sweepPartials,
  type BuildInfo, type BuildOrigin, type OnProgress, type OriginRef,
} from "./store";
import { releaseNumber } from "./version";

/**
 * The library of Moodle builds: the one place instance code comes from (besides the CI fixture).
 * Four ways in — a folder or package on disk, an upload, a download by version, a git ref — plus
 * MOODLE_SOURCE and the moodle-sources folder, scanned on first use. See docs/moodle.md.
 */
export type { BuildInfo, BuildOrigin, BuildProgress, OnProgress } from "./store";
export { ORIGINS } from "./store";
export { scanSources } from "./sources";
export { defaultRef } from "./git";

export async function addBuild(pathOrArchive: string, origin: BuildOrigin | OriginRef = "disk", onProgress?: OnProgress): Promise<BuildInfo> {
  const file = path.resolve(pathOrArchive);
  return ingest(file, typeof origin === "string" ? { kind: origin, detail: file } : origin, { onProgress });
}

/** Marks the one validation failure the edge answers with 413 instead of 422. */
export class UploadTooLargeError extends AppError {
  readonly tooLarge = true;
  constructor(max: number) {
    super("validation", `the upload is larger than the limit of ${mib(max)} (MDIND_MOODLE_UPLOAD_MAX)`, { field: "body" });
    this.name = "UploadTooLargeError";
  }
}

/** MDIND_MOODLE_UPLOAD_MAX in bytes, default 1 GiB (a Moodle package is ~100 MB). */
export function uploadLimit(): number {
  const n = Number(process.env.MDIND_MOODLE_UPLOAD_MAX);
  return Number.isSafeInteger(n) && n > 0 ? n : 1024 ** 3;
}

export function checkUploadName(filename: unknown): string {
  if (typeof filename !== "string" || !UPLOAD_NAME_RE.test(filename) || !archiveKind(filename)) {
    throw new ValidationError("filename: a package name ending in .tgz, .tar.gz or .zip (letters, digits, . _ + -)", "filename");
  }
  return filename;
}

/** Stream an uploaded package to a temporary file (refusing more than maxBytes), then add it. */
export async function addUploaded(stream: Readable, filename: string, maxBytes: number, onProgress?: OnProgress): Promise<BuildInfo> {
  checkUploadName(filename);
  await fsp.mkdir(libraryDir(), { recursive: true });
  const dir = path.join(libraryDir(), `upload.partial-${process.pid}-${randomBytes(4).toString("hex")}`);
  await fsp.mkdir(dir);
  try {
    const file = path.join(dir, filename);
    let bytes = 0;
    let last = 0;
    const started = Date.now();
    const report = () => onProgress?.({ phase: "upload", bytes, total: null, rate: Math.round(bytes / Math.max((Date.now() - started) / 1000, 0.001)) });
    const meter = new Transform({
      transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
        bytes += chunk.length;
        if (bytes > maxBytes) return cb(new UploadTooLargeError(maxBytes));
        if (Date.now() - last >= 250) {
          last = Date.now();
          report();
        }
        cb(null, chunk);
      },
    });
    await pipeline(stream, meter, fs.createWriteStream(file, { flags: "wx", mode: 0o600 }));
    report();
    return await ingest(file, { kind: "upload", detail: filename }, { onProgress });
  } finally {
    await fsp.rm(dir, { recursive: true, force: true });
  }
}

/**
 * Download an official package by version (lib/moodle/download.ts: resume, checksum) and add it;
 * the archive is deleted once added. An exact release already in the library is not downloaded again.
 */
export async function downloadBuild(spec: string, onProgress?: OnProgress, signal?: AbortSignal): Promise<BuildInfo> {
  const pkg = packagePaths(spec);
  if (pkg.release) {
    const have = (await readBuilds()).find((b) => releaseNumber(b.release) === pkg.release && !b.release.includes("+"));
    if (have) return have;
  }
  const r = await downloadMoodle(spec, {
    dir: downloadsDir(),
    signal,
    onProgress: (p) => onProgress?.({ phase: "download", bytes: p.bytes, total: p.total, rate: p.rate }),
  });
  try {
    return await ingest(r.file, { kind: "download", detail: r.url }, { onProgress, expect: spec });
  } finally {
    await fsp.rm(r.file, { force: true });
  }
}

/** A build from a git tag or branch; `expect` (a version) refuses a ref that holds another one. */
export async function addFromGit(url: string, ref: string, onProgress?: OnProgress, expect?: string): Promise<BuildInfo> {
  return cloneBuild(url, ref, onProgress, expect);
}

/** Every build, newest first, after adding what MOODLE_SOURCE and the sources folder hold. */
export async function listBuilds(): Promise<BuildInfo[]> {
  await scanSources();
  await sweepPartials();
  return readBuilds();
}

export async function getBuild(id: string): Promise<BuildInfo> {
  return readBuild(id);
}

export async function removeBuild(id: string): Promise<void> {
  await deleteBuild(checkBuildId(id));
}

/** "auto", a branch (4.5), a release (4.5.5) or a build id: anything else is refused before a lookup. */
export function checkWant(want: unknown): string {
  if (typeof want === "string" && want.length <= 40 && (want === "auto" || BRANCH_RE.test(want) || RELEASE_RE.test(want) || BUILD_ID_RE.test(want))) return want;
  throw new ValidationError("moodle: auto, a branch (5.1), a release (5.1.2) or a build id", "moodle");
}

/**
 * The build a create gets: the newest ($version compared as a number) that answers to `want`.
 * "auto" prefers MOODLE_SOURCE's build when it is set, so a bench or test pointing at one tree gets it.
 */
export async function resolveBuild(want: string): Promise<BuildInfo> {
  checkWant(want);
  const scan = await scanSources();
  const builds = await readBuilds();
  if (want === "auto") {
    if (process.env.MOODLE_SOURCE) {
      if (scan.envError) throw new ValidationError(scan.envError, "moodle");
      const env = builds.find((b) => b.id === scan.envBuildId);
      if (env) return env;
    }
    if (builds[0]) return builds[0];
  } else {
    const hit = builds.find((b) => matches(b, want));
    if (hit) return hit;
  }
  throw new ValidationError(noBuild(want, builds), "moodle");
}

function noBuild(want: string, builds: BuildInfo[]): string {
  const have = builds.length
    ? ` (it has ${builds.slice(0, 5).map((b) => `${b.release} as ${b.id}`).join(", ")}${builds.length > 5 ? ", …" : ""})`
    : " (it is empty)";
  const version = want === "auto" ? REAL_BRANCHES[REAL_BRANCHES.length - 1] : BUILD_ID_RE.test(want) ? want.split("-")[0] : want;
  return `No Moodle build for ${want === "auto" ? "any version" : want} in the library${have}. Add one: moodle-dind moodle add PATH, moodle-dind moodle download ${version}, or upload it on the dashboard's Moodle page.`;
}

function mib(n: number): string {
  return n >= 1024 ** 3 ? `${(n / 1024 ** 3).toFixed(1)} GiB` : `${(n / 1024 ** 2).toFixed(1)} MiB`;
}
