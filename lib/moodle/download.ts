/**
 * Download an official Moodle package (download.moodle.org layout) by version, robustly:
 * strict version allowlist, resumable `.partial` file, throttled progress, published-checksum
 * check and a full gzip+tar read before the archive is given its final name.
 *
 * Layout: "4.5" -> stable405/moodle-latest-405.tgz, "4.5.5" -> stable405/moodle-4.5.5.tgz.
 * We never scrape moodle.org: a branch spec simply means that branch's "latest" package.
 */
import { createHash, type Hash } from "node:crypto";
import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { createGunzip } from "node:zlib";
import { extract as tarExtract } from "tar-stream";
import { AppError, NotFoundError, ValidationError } from "../errors";

export interface DownloadProgress {
  bytes: number;
  total: number | null;
  /** bytes/s over this session (the resumed part is not counted as transferred). */
  rate: number;
  resumedFrom: number;
}

export interface DownloadResult {
  /** Path of the verified archive. */
  file: string;
  url: string;
  sha256: string;
  checksum: "verified" | "none-published";
  bytes: number;
}

export interface DownloadOptions {
  dir: string;
  onProgress?: (p: DownloadProgress) => void;
  signal?: AbortSignal;
  fetchImpl?: typeof fetch;
  /** Overrides for tests; defaults 15 s to response headers, 30 s without a byte. */
  connectTimeoutMs?: number;
  idleTimeoutMs?: number;
}

/** What `<file>.partial.json` holds, so a later run can resume with `If-Range`. */
export interface PartialSidecar {
  url: string;
  etag: string | null;
  lastModified: string | null;
}

const DEFAULT_BASE = "https://download.moodle.org/download.php/direct";
const CONNECT_TIMEOUT_MS = 15_000;
const IDLE_TIMEOUT_MS = 30_000;
const PROGRESS_EVERY_MS = 200;
const CHECKSUM_MAX_BYTES = 64 * 1024;
const BRANCH_RE = /^(\d)\.(\d{1,2})$/;
const RELEASE_RE = /^(\d)\.(\d{1,2})\.(\d{1,2})$/;
/** version.php at the package root: "version.php", "moodle/version.php", "moodle/public/version.php" (5.1+). */
const ROOT_VERSION_PHP = /^(?:\.\/)?(?:[^/]+\/)?(?:public\/)?version\.php$/;
const NETWORK_CODES = new Set([
  "ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "ETIMEDOUT",
  "ECONNRESET", "UND_ERR_CONNECT_TIMEOUT", "UND_ERR_HEADERS_TIMEOUT",
]);

export function downloadBaseUrl(): string {
  return process.env.MDIND_MOODLE_DOWNLOAD_URL ?? DEFAULT_BASE;
}

export function packagePaths(spec: string): { branch: string; release: string | null; path: string } {
  // The regexes are anchored and JS `$` does not match before a trailing "\n"; the length check
  // just keeps hostile megabyte strings out of error messages.
  const m = typeof spec === "string" && spec.length <= 8 ? (RELEASE_RE.exec(spec) ?? BRANCH_RE.exec(spec)) : null;
  if (!m) {
    const shown = typeof spec === "string" ? JSON.stringify(spec.slice(0, 40)) : typeof spec;
    throw new ValidationError(`Invalid Moodle version ${shown}: use X.Y (e.g. 4.5) or X.Y.Z (e.g. 4.5.5)`, "version");
  }
  const [major, minor, patch] = [m[1], Number(m[2]), m[3] === undefined ? null : Number(m[3])];
  const branch = `${major}${String(minor).padStart(2, "0")}`;
  const release = patch === null ? null : `${major}.${minor}.${patch}`;
  const file = release ? `moodle-${release}.tgz` : `moodle-latest-${branch}.tgz`;
  return { branch, release, path: `stable${branch}/${file}` };
}

function packageUrl(pkgPath: string): string {
  const base = downloadBaseUrl();
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new ValidationError(`MDIND_MOODLE_DOWNLOAD_URL is not a valid URL: ${JSON.stringify(base.slice(0, 200))}`, "MDIND_MOODLE_DOWNLOAD_URL");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ValidationError(`Moodle download URL must be http: or https:, not ${u.protocol} (${base.slice(0, 200)})`, "MDIND_MOODLE_DOWNLOAD_URL");
  }
  // fetch refuses credentials in URLs, and a query or fragment would swallow the appended path.
  if (u.username || u.password || u.search || u.hash) {
    throw new ValidationError("Moodle download URL must not contain credentials, a query or a fragment", "MDIND_MOODLE_DOWNLOAD_URL");
  }
  return `${u.href.replace(/\/+$/, "")}/${pkgPath}`;
}

// ---------------------------------------------------------------------------------------------
// Errors

function noNetwork(url: string, code: string, cause?: unknown): AppError {
  const host = new URL(url).host;
  return new AppError(
    "internal",
    `No network: could not reach ${host} (${code}). Add a Moodle package you have with "moodle-dind moodle add PATH", upload one on the dashboard's Moodle page, or set MDIND_MOODLE_DOWNLOAD_URL to a mirror.`,
    { step: "download", cause },
  );
}

/** Node's fetch reports "TypeError: fetch failed" with the socket/DNS error somewhere in `cause`. */
function errorCode(e: unknown, depth = 0): string | null {
  if (!e || typeof e !== "object" || depth > 4) return null;
  const err = e as { code?: unknown; cause?: unknown; errors?: unknown };
  if (typeof err.code === "string") return err.code;
  if (Array.isArray(err.errors)) for (const sub of err.errors) { const c = errorCode(sub, depth + 1); if (c) return c; }
  return errorCode(err.cause, depth + 1);
}

function errorText(e: unknown): string {
  const err = e as { message?: string; cause?: { message?: string } };
  const own = err?.message ?? String(e);
  return err?.cause?.message && err.cause.message !== own ? `${own}: ${err.cause.message}` : own;
}

/** One abort controller per request: the caller's signal, a connect timer, then an idle timer. */
function requestGuard(outer: AbortSignal | undefined, connectMs: number, idleMs: number) {
  const ctl = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let timedOut: "connect timeout" | "idle timeout" | null = null;
  const onOuter = () => ctl.abort(outer?.reason);
  if (outer?.aborted) onOuter();
  else outer?.addEventListener("abort", onOuter, { once: true });
  const arm = (what: "connect timeout" | "idle timeout", ms: number) => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = what;
      ctl.abort(new Error(what));
    }, ms);
  };
  return {
    signal: ctl.signal,
    connecting: () => arm("connect timeout", connectMs),
    touch: () => arm("idle timeout", idleMs),
    timedOut: () => timedOut,
    close: () => {
      clearTimeout(timer);
      outer?.removeEventListener("abort", onOuter);
    },
  };
}
type Guard = ReturnType<typeof requestGuard>;

/** Turn a failed fetch() (no response) into one clear error. */
function requestFailure(e: unknown, url: string, guard: Guard, outer?: AbortSignal): unknown {
  if (outer?.aborted) return outer.reason ?? e;
  const timedOut = guard.timedOut();
  if (timedOut) return noNetwork(url, timedOut, e);
  const code = errorCode(e);
  if (code && NETWORK_CODES.has(code)) return noNetwork(url, code, e);
  if (/bad port/i.test(errorText(e))) {
    // The fetch standard blocks some ports (1, 25, 6000 …) before any connection is made.
    return new ValidationError(`Cannot download from ${url}: fetch refuses port ${new URL(url).port} ("bad port"); use another port for the mirror`, "MDIND_MOODLE_DOWNLOAD_URL");
  }
  return new AppError("internal", `Download of ${url} failed: ${errorText(e)}`, { step: "download", cause: e });
}

function httpError(res: Response, url: string): AppError {
  return new AppError("internal", `Download of ${url} failed: HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ""}`, { step: "download" });
}

// ---------------------------------------------------------------------------------------------
// Download

export async function downloadMoodle(spec: string, opts: DownloadOptions): Promise<DownloadResult> {
  const pkg = packagePaths(spec);
  const url = packageUrl(pkg.path);
  await fsp.mkdir(opts.dir, { recursive: true });
  const file = path.join(opts.dir, path.posix.basename(pkg.path));
  const partial = `${file}.partial`;
  const sidecar = `${partial}.json`;
  const discard = () => Promise.all([fsp.rm(partial, { force: true }), fsp.rm(sidecar, { force: true })]);
  // A partial survives failures that say nothing about its bytes (no network, 5xx, caller abort,
  // stall) so the next run resumes; anything that refuses the content (404, cut off, checksum,
  // corrupt archive) discards it.
  const state = { keepPartial: true };
  try {
    const got = await fetchPackage(url, `Moodle ${pkg.release ?? spec}`, partial, sidecar, discard, opts, state);
    state.keepPartial = false;
    if (got.total !== null && got.bytes !== got.total) {
      throw new AppError("internal", `Download of ${url} is truncated: got ${got.bytes} of ${got.total} bytes; the download was discarded`, { step: "download" });
    }
    const checksum = await verifyChecksum(url, got.sha256, got.md5, opts);
    await verifyArchive(partial, url);
    await fsp.rename(partial, file);
    await fsp.rm(sidecar, { force: true });
    return { file, url, sha256: got.sha256, checksum, bytes: got.bytes };
  } catch (e) {
    if (!state.keepPartial) await discard();
    throw e;
  }
}

interface Fetched { bytes: number; total: number | null; sha256: string; md5: string }

async function fetchPackage(
  url: string,
  what: string,
  partial: string,
  sidecar: string,
  discard: () => Promise<unknown>,
  opts: DownloadOptions,
  state: { keepPartial: boolean },
): Promise<Fetched> {
  const fetchImpl = opts.fetchImpl ?? fetch;
  for (let attempt = 0; ; attempt++) {
    const resume = attempt === 0 ? await resumeState(partial, sidecar, url, discard) : null;
    const headers: Record<string, string> = { "accept-encoding": "identity" }; // byte counts must be the file's
    if (resume) {
      headers.range = `bytes=${resume.offset}-`;
      if (resume.validator) headers["if-range"] = resume.validator;
    }
    const guard = requestGuard(opts.signal, opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS);
    try {
      guard.connecting();
      let res: Response;
      try {
        res = await fetchImpl(url, { headers, signal: guard.signal, redirect: "follow" });
      } catch (e) {
        throw requestFailure(e, url, guard, opts.signal);
      }
      let offset = 0;
      let total = headerInt(res.headers.get("content-length"));
      if (res.status === 206) {
        const range = parseContentRange(res.headers.get("content-range"));
        if (!resume || !range || range.start !== resume.offset) {
          // A range we did not ask for: start over once without Range.
          await res.body?.cancel().catch(() => {});
          await discard();
          if (attempt === 0) continue;
          throw new AppError("internal", `Download of ${url} failed: unexpected partial response`, { step: "download" });
        }
        offset = range.start;
        total = range.total ?? (total === null ? null : offset + total);
      } else if (res.status === 416 && resume && attempt === 0) {
        // Our partial is not a prefix of the file any more (or is already whole): start over.
        await res.body?.cancel().catch(() => {});
        await discard();
        continue;
      } else if (res.status === 404) {
        state.keepPartial = false;
        await res.body?.cancel().catch(() => {});
        throw new NotFoundError(`${what} is not published at ${url} (404). Check the version, or add a package you have with "moodle-dind moodle add PATH" or upload it in the dashboard.`);
      } else if (res.status !== 200) {
        await res.body?.cancel().catch(() => {});
        throw httpError(res, url);
      }
      if (!res.body) throw new AppError("internal", `Download of ${url} failed: empty response body`, { step: "download" });

      const etag = res.headers.get("etag");
      const side: PartialSidecar = offset > 0 && resume
        ? { ...resume.sidecar, etag: etag ?? resume.sidecar.etag, lastModified: res.headers.get("last-modified") ?? resume.sidecar.lastModified }
        : { url, etag, lastModified: res.headers.get("last-modified") };
      await fsp.writeFile(sidecar, JSON.stringify(side));

      const sha256 = createHash("sha256");
      const md5 = createHash("md5");
      // Hash the bytes we already have so the final digest covers the whole file.
      if (offset > 0) await pipeline(fs.createReadStream(partial, { end: offset - 1 }), hashSink([sha256, md5]));

      let bytes = offset;
      const started = Date.now();
      let lastEmit = 0;
      const report = () => {
        const secs = Math.max((Date.now() - started) / 1000, 0.001);
        opts.onProgress?.({ bytes, total, rate: Math.round((bytes - offset) / secs), resumedFrom: offset });
      };
      const meter = new Transform({
        transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback) {
          guard.touch();
          bytes += chunk.length;
          sha256.update(chunk);
          md5.update(chunk);
          const now = Date.now();
          if (opts.onProgress && now - lastEmit >= PROGRESS_EVERY_MS) {
            lastEmit = now;
            report();
          }
          cb(null, chunk);
        },
      });
      guard.touch();
      try {
        await pipeline(
          Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>),
          meter,
          fs.createWriteStream(partial, { flags: offset > 0 ? "a" : "w" }),
        );
      } catch (e) {
        if (opts.signal?.aborted) throw opts.signal.reason ?? e;
        if (guard.timedOut()) throw noNetwork(url, "idle timeout", e);
        state.keepPartial = false;
        if (errorCode(e) === "ENOSPC") {
          throw new AppError("capacity", `Disk full while writing ${partial}; the download was discarded`, { step: "download", cause: e });
        }
        throw new AppError("internal", `Download of ${url} was cut off after ${bytes}${total === null ? "" : ` of ${total}`} bytes (${errorText(e)}); the download was discarded`, { step: "download", cause: e });
      }
      report();
      return { bytes, total, sha256: sha256.digest("hex"), md5: md5.digest("hex") };
    } finally {
      guard.close();
    }
  }
}

async function resumeState(partial: string, sidecar: string, url: string, discard: () => Promise<unknown>) {
  const st = await fsp.stat(partial).catch(() => null);
  if (!st) return null;
  let side: PartialSidecar | null = null;
  try {
    side = JSON.parse(await fsp.readFile(sidecar, "utf8")) as PartialSidecar;
  } catch {
    side = null;
  }
  // Without a sidecar for the same URL we cannot tell what the bytes are: start over.
  if (!st.isFile() || st.size === 0 || !side || side.url !== url) {
    await discard();
    return null;
  }
  // If-Range needs a strong validator; weak ETags (W/"…") cannot be used.
  const strongEtag = side.etag && !side.etag.startsWith("W/") ? side.etag : null;
  return { offset: st.size, validator: strongEtag ?? side.lastModified ?? null, sidecar: side };
}

function headerInt(v: string | null): number | null {
  return v !== null && /^\d+$/.test(v.trim()) ? Number(v.trim()) : null;
}

function parseContentRange(v: string | null): { start: number; total: number | null } | null {
  const m = v ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(v.trim()) : null;
  return m ? { start: Number(m[1]), total: m[3] === "*" ? null : Number(m[3]) } : null;
}

function hashSink(hashes: Hash[]) {
  return async function* (source: AsyncIterable<Buffer>) {
    for await (const chunk of source) for (const h of hashes) h.update(chunk);
  };
}

// ---------------------------------------------------------------------------------------------
// Verification

/** Moodle publishes `<package>.sha256` (older releases `.md5`) beside each package. */
async function verifyChecksum(url: string, sha256: string, md5: string, opts: DownloadOptions): Promise<"verified" | "none-published"> {
  for (const [ext, actual, re] of [[".sha256", sha256, /^[0-9a-f]{64}$/i], [".md5", md5, /^[0-9a-f]{32}$/i]] as const) {
    const text = await fetchSmallText(`${url}${ext}`, opts);
    if (text === null) continue;
    const token = text.trim().split(/\s+/)[0] ?? "";
    if (!re.test(token)) {
      throw new AppError("internal", `Checksum file ${url}${ext} does not contain a ${ext.slice(1)} digest; the download was discarded`, { step: "checksum" });
    }
    if (token.toLowerCase() !== actual) {
      throw new AppError("internal", `Moodle package ${url}: checksum mismatch: expected ${token.toLowerCase()}, got ${actual} (${ext.slice(1)}); the download was discarded`, { step: "checksum" });
    }
    return "verified";
  }
  return "none-published";
}

/** GET a checksum file: its text, or null on 404. Any other outcome is an error. */
async function fetchSmallText(url: string, opts: DownloadOptions): Promise<string | null> {
  const guard = requestGuard(opts.signal, opts.connectTimeoutMs ?? CONNECT_TIMEOUT_MS, opts.idleTimeoutMs ?? IDLE_TIMEOUT_MS);
  try {
    guard.connecting();
    let res: Response;
    try {
      res = await (opts.fetchImpl ?? fetch)(url, { headers: { "accept-encoding": "identity" }, signal: guard.signal });
    } catch (e) {
      throw requestFailure(e, url, guard, opts.signal);
    }
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      return null;
    }
    if (res.status !== 200 || !res.body) {
      await res.body?.cancel().catch(() => {});
      throw httpError(res, url);
    }
    guard.touch();
    // Bounded read: a checksum is a line, a hostile mirror must not make us buffer gigabytes.
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of Readable.fromWeb(res.body as unknown as NodeReadableStream<Uint8Array>)) {
        guard.touch();
        chunks.push(chunk as Buffer);
        size += (chunk as Buffer).length;
        if (size >= CHECKSUM_MAX_BYTES) break;
      }
    } catch (e) {
      throw requestFailure(e, url, guard, opts.signal);
    }
    return Buffer.concat(chunks).toString("utf8", 0, Math.min(size, CHECKSUM_MAX_BYTES));
  } finally {
    guard.close();
  }
}

/** Read the whole archive: gunzip and tar parse both fail on truncation; require a root version.php. */
async function verifyArchive(file: string, url: string): Promise<void> {
  let found = false;
  const ex = tarExtract();
  ex.on("entry", (header, stream, next) => {
    if (ROOT_VERSION_PHP.test(header.name)) found = true;
    stream.on("end", next);
    // A truncated archive destroys the entry with the same error the pipeline reports.
    stream.on("error", () => {});
    stream.resume();
  });
  try {
    await pipeline(fs.createReadStream(file), createGunzip(), ex);
  } catch (e) {
    throw new AppError("internal", `Download of ${url} is not a complete gzip tar archive (${errorText(e)}); the download was discarded`, { step: "verify", cause: e });
  }
  if (!found) {
    throw new AppError("internal", `Download of ${url} is not a Moodle package (no version.php at its root); the download was discarded`, { step: "verify" });
  }
}
