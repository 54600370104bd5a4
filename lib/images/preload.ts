import { EventEmitter } from "node:events";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Transform, type TransformCallback } from "node:stream";
import { docker, followProgress } from "../docker";
import { engineError } from "../errors";

/**
 * Preload: at every start of the DinD host, each shared-images/*.tar (a `docker save` archive,
 * mounted read-only) is loaded into the inner engine, so the images instances need arrive with no
 * registry at all. Two loads run at once (the engine serialises layer extraction anyway; more only
 * thrashes the disk). Each file reports bytes read / total while it streams. A file whose images
 * are all present with the same image id is skipped after reading only its tar headers. A
 * malformed or truncated file is reported and the others carry on.
 */
export type PreloadStatus = "pending" | "checking" | "skipped" | "loading" | "loaded" | "failed";

export interface PreloadFile {
  file: string;
  size: number;
  read: number;
  status: PreloadStatus;
  tags: string[];
  error?: string;
  /** Why a file was skipped (the dashboard shows it next to the status). */
  reason?: string;
  startedAt?: string;
  finishedAt?: string;
  /** Load throughput, MB/s of tar read, when loaded. */
  mbPerSec?: number;
}

export interface PreloadState {
  dir: string | null;
  running: boolean;
  startedAt: string | null;
  finishedAt: string | null;
  files: PreloadFile[];
}

export type PreloadLog = (event: string, fields?: Record<string, unknown>) => void;

// Process-wide, on globalThis: the dashboard's custom server (which runs the preload) and Next's
// bundled route code (which reports it) load this file as two module instances in one process.
const shared = globalThis as unknown as {
  __mdindPreload?: { events: EventEmitter; state: PreloadState; current: Promise<PreloadState> | null };
};
shared.__mdindPreload ??= {
  events: new EventEmitter().setMaxListeners(100),
  state: { dir: null, running: false, startedAt: null, finishedAt: null, files: [] },
  current: null,
};
const g = shared.__mdindPreload;

/** "file" (a PreloadFile changed), "done" (the whole run finished, with its PreloadState). */
export const preloadEvents = g.events;

export function preloadState(): PreloadState {
  return { ...g.state, files: g.state.files.map((f) => ({ ...f, tags: [...f.tags] })) };
}

const BLOCK = 512;

export interface TarManifestEntry {
  Config: string;
  RepoTags: string[] | null;
  Layers: string[];
}

function octal(buf: Buffer, off: number, len: number): number {
  // Sizes over 8 GiB use GNU base-256: high bit of the first byte set.
  if (buf[off] & 0x80) {
    let v = 0;
    for (let i = off + 1; i < off + len; i++) v = v * 256 + buf[i];
    return v;
  }
  const s = buf.toString("ascii", off, off + len).replace(/\0.*$/s, "").trim();
  return s ? Number.parseInt(s, 8) : 0;
}

function cstr(buf: Buffer, off: number, len: number): string {
  const s = buf.subarray(off, off + len);
  const z = s.indexOf(0);
  return s.toString("utf8", 0, z < 0 ? len : z);
}

function checksumOk(h: Buffer): boolean {
  const want = octal(h, 148, 8);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : h[i];
  return sum === want;
}

function paxRecords(body: string): Record<string, string> {
  const out: Record<string, string> = {};
  let rest = body;
  while (rest.length > 0) {
    const sp = rest.indexOf(" ");
    const len = Number.parseInt(rest.slice(0, sp), 10);
    if (!(len > 0) || sp < 0) break;
    const rec = rest.slice(sp + 1, len - 1);
    const eq = rec.indexOf("=");
    if (eq > 0) out[rec.slice(0, eq)] = rec.slice(eq + 1);
    rest = rest.slice(len);
  }
  return out;
}

export class MalformedTarError extends Error {}

/**
 * Walk a tar's headers by seeking (never reading entry bodies except manifest.json and pax
 * records), so checking a multi-GB archive costs a few dozen small reads. Throws
 * MalformedTarError on a bad checksum or an entry that runs past the end of the file (truncation).
 */
export async function readTarManifest(file: string): Promise<TarManifestEntry[]> {
  const fh = await fsp.open(file, "r");
  try {
    const { size } = await fh.stat();
    const header = Buffer.alloc(BLOCK);
    let off = 0;
    let manifest: TarManifestEntry[] | null = null;
    let pax: Record<string, string> = {};
    let longName: string | null = null;
    for (;;) {
      if (off + BLOCK > size) throw new MalformedTarError(`truncated: no end-of-archive marker (${size} bytes)`);
      await fh.read(header, 0, BLOCK, off);
      if (header.every((b) => b === 0)) break;
      if (!checksumOk(header)) throw new MalformedTarError(`bad header checksum at byte ${off}`);
      const type = String.fromCharCode(header[156] || 48);
      let name = cstr(header, 0, 100);
      const prefix = header.toString("ascii", 257, 263).startsWith("ustar") ? cstr(header, 345, 155) : "";
      if (prefix) name = `${prefix}/${name}`;
      let entrySize = octal(header, 124, 12);
      if (pax.size) entrySize = Number.parseInt(pax.size, 10);
      if (pax.path) name = pax.path;
      if (longName) name = longName;
      const bodyStart = off + BLOCK;
      if (bodyStart + entrySize > size) throw new MalformedTarError(`truncated inside ${name || "an entry"}`);
      const readBody = async () => {
        const b = Buffer.alloc(entrySize);
        await fh.read(b, 0, entrySize, bodyStart);
        return b;
      };
      if (type === "x" || type === "L") {
        if (entrySize > 1 << 20) throw new MalformedTarError("oversized extended header");
        const body = await readBody();
        if (type === "x") pax = paxRecords(body.toString("utf8"));
        else longName = cstr(body, 0, body.length);
      } else {
        if (type !== "g") {
          if (name.replace(/^\.\//, "") === "manifest.json") {
            if (entrySize > 16 << 20) throw new MalformedTarError("manifest.json is implausibly large");
            try {
              manifest = JSON.parse((await readBody()).toString("utf8")) as TarManifestEntry[];
            } catch {
              throw new MalformedTarError("manifest.json is not valid JSON");
            }
          }
          pax = {};
          longName = null;
        }
      }
      off = bodyStart + Math.ceil(entrySize / BLOCK) * BLOCK;
    }
    if (!manifest || !Array.isArray(manifest)) throw new MalformedTarError("no manifest.json: not a `docker save` archive");
    return manifest;
  } finally {
    await fh.close();
  }
}

/** The image id an archive entry will have once loaded: its config blob's digest. */
export function configId(entry: TarManifestEntry): string | null {
  const m = /([0-9a-f]{64})(?:\.json)?$/.exec(entry.Config ?? "");
  return m ? `sha256:${m[1]}` : null;
}

/** True when every tagged image of the archive is already in the engine with the same id. */
export async function alreadyLoaded(manifest: TarManifestEntry[]): Promise<boolean> {
  if (manifest.length === 0) return false;
  for (const entry of manifest) {
    const id = configId(entry);
    const tags = entry.RepoTags ?? [];
    if (!id || tags.length === 0) return false;
    for (const tag of tags) {
      try {
        const info = await docker().getImage(tag).inspect();
        if (info.Id !== id) return false;
      } catch (e) {
        if ((e as { statusCode?: number }).statusCode === 404) return false;
        throw engineError(`inspect ${tag}`, e);
      }
    }
  }
  return true;
}

class CountingStream extends Transform {
  constructor(private readonly onBytes: (n: number) => void) {
    super();
  }
  _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
    this.onBytes(chunk.length);
    cb(null, chunk);
  }
}

function update(f: PreloadFile, patch: Partial<PreloadFile>) {
  Object.assign(f, patch);
  preloadEvents.emit("file", { ...f, tags: [...f.tags] });
}

async function loadOne(dir: string, f: PreloadFile, log: PreloadLog): Promise<void> {
  const full = path.join(dir, f.file);
  const started = Date.now();
  update(f, { status: "checking", startedAt: new Date().toISOString() });
  let manifest: TarManifestEntry[];
  try {
    manifest = await readTarManifest(full);
  } catch (e) {
    const error = e instanceof MalformedTarError ? `malformed archive: ${e.message}` : (e as Error).message;
    update(f, { status: "failed", error, finishedAt: new Date().toISOString() });
    log("preload_failed", { file: f.file, error });
    return;
  }
  f.tags = manifest.flatMap((m) => m.RepoTags ?? []);
  if (await alreadyLoaded(manifest).catch(() => false)) {
    const reason = "already present with the same image id";
    update(f, { status: "skipped", read: 0, reason, finishedAt: new Date().toISOString() });
    log("preload_skipped", { file: f.file, tags: f.tags, reason });
    return;
  }
  update(f, { status: "loading", read: 0 });
  log("preload_start", { file: f.file, size: f.size, tags: f.tags });
  let lastEmit = 0;
  let lastLogPct = 0;
  const counter = new CountingStream((n) => {
    f.read += n;
    const now = Date.now();
    if (now - lastEmit > 250) {
      lastEmit = now;
      preloadEvents.emit("file", { ...f, tags: [...f.tags] });
    }
    const pct = f.size > 0 ? Math.floor((f.read / f.size) * 100) : 100;
    if (pct >= lastLogPct + 25 && pct < 100) {
      lastLogPct = pct - (pct % 25);
      log("preload_progress", { file: f.file, read: f.read, size: f.size, pct });
    }
  });
  const src = fs.createReadStream(full, { highWaterMark: 1 << 20 });
  src.on("error", (e) => counter.destroy(e));
  src.pipe(counter);
  try {
    const res = (await docker().loadImage(counter as unknown as NodeJS.ReadableStream, { quiet: true })) as NodeJS.ReadableStream;
    await followProgress(res);
    const secs = Math.max((Date.now() - started) / 1000, 0.001);
    const mbPerSec = Math.round((f.read / 1048576 / secs) * 10) / 10;
    update(f, { status: "loaded", finishedAt: new Date().toISOString(), mbPerSec });
    log("preload_loaded", { file: f.file, tags: f.tags, bytes: f.read, seconds: Math.round(secs * 10) / 10, mbPerSec });
  } catch (e) {
    src.destroy();
    const error = (e as { json?: { message?: string }; message?: string }).json?.message ?? (e as Error).message;
    update(f, { status: "failed", error: `load failed: ${error}`, finishedAt: new Date().toISOString() });
    log("preload_failed", { file: f.file, error });
  }
}

export function preloadDir(): string {
  return process.env.MDIND_SHARED_IMAGES ?? "/shared-images";
}

/**
 * Load every *.tar in `dir` (non-recursive, sorted by name). Concurrent calls share one run.
 * Never throws for a bad file: each file's outcome is in the returned state.
 */
export function runPreload(dir = preloadDir(), opts: { concurrency?: number; log?: PreloadLog } = {}): Promise<PreloadState> {
  if (g.current) return g.current;
  const log = opts.log ?? (() => {});
  const concurrency = Math.min(Math.max(Math.trunc(opts.concurrency ?? 2), 1), 4);
  g.current = (async () => {
    const names = (await fsp.readdir(dir).catch(() => [] as string[])).filter((n) => n.endsWith(".tar")).sort();
    const files: PreloadFile[] = [];
    for (const n of names) {
      const st = await fsp.stat(path.join(dir, n)).catch(() => null);
      if (st?.isFile()) files.push({ file: n, size: st.size, read: 0, status: "pending", tags: [] });
    }
    g.state = { dir, running: true, startedAt: new Date().toISOString(), finishedAt: null, files };
    log("preload_begin", { dir, files: files.length, bytes: files.reduce((s, f) => s + f.size, 0) });
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const f = files[next++];
        await loadOne(dir, f, log).catch((e: unknown) => {
          update(f, { status: "failed", error: e instanceof Error ? e.message : String(e), finishedAt: new Date().toISOString() });
        });
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, files.length) }, worker));
    g.state.running = false;
    g.state.finishedAt = new Date().toISOString();
    const count = (s: PreloadStatus) => files.filter((f) => f.status === s).length;
    log("preload_done", { loaded: count("loaded"), skipped: count("skipped"), failed: count("failed") });
    const snapshot = preloadState();
    preloadEvents.emit("done", snapshot);
    return snapshot;
  })().finally(() => {
    g.current = null;
  });
  return g.current;
}
