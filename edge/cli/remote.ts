import type { CreateRequest } from "../../instances/spec";
import type { Writable } from "node:stream";
import fs from "node:fs/promises";
import path from "node:path";
import { AppError, type ErrorKind } from "../../lib/errors";
import type { OpEvent } from "../../lib/operations";
import type { InstanceView } from "../../instances/query";
import type { ReconcileReport } from "../../services/reconcile";
import type { Backend, ConfigSaved, MoodleLibrary } from "./backend";
import type { ConfigFile } from "../../instances/configfiles";
import type { MailMessage, MailSummary } from "../../lib/mail/store";
import type { DownloadRequest } from "../../instances/builds";
import type { BuildInfo } from "../../lib/moodle/library";
import type { ApplyOptions, ApplyResult } from "../../instances/blueprint";
import type { UpgradeInput } from "../../instances/upgrade/plan";
import { download, sayer, uploadStream } from "./transfer";

/**
 * The CLI driving a remote host through its REST API (/api/v1) with an API token. Long operations
 * answer 202 + an operation id; progress is followed on the SSE stream, replayed from the start,
 * and given to the same callback the local backend uses.
 */
const KINDS: ErrorKind[] = ["validation", "conflict", "not_found", "unauthorized", "forbidden", "engine", "command", "capacity", "internal"];
/** An answer without our error body (a proxy, an unknown path) still maps to the exit code its status means. */
const BY_STATUS: Record<number, ErrorKind> = { 400: "validation", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict", 413: "validation", 422: "validation", 429: "forbidden", 507: "capacity" };

/** A request body sent as is (a package upload), streamed rather than read into memory. */
class RawBody {
  constructor(readonly stream: ReadableStream<Uint8Array>, readonly type: string, readonly length: number) {}
}

/** The line the "_moodle" operation ends with names the build: "<id>: Moodle <release> …". */
const BUILD_LINE = /^(\d\.\d{1,2}-\d{10}(?:\.\d{2})?-[0-9a-f]{8}): Moodle /;

export class RemoteBackend implements Backend {
  private readonly base: string;

  constructor(url: string, private readonly token: string) {
    const u = new URL(url);
    if (u.protocol !== "http:" && u.protocol !== "https:") throw new AppError("validation", "--url must be http(s)://host:port", { field: "url" });
    this.base = `${u.origin}/api/v1`;
    if (!token) throw new AppError("unauthorized", "a token is needed with --url: pass --token or set MOODLE_DIND_TOKEN (create one under Settings)");
  }

  private async request(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<Response> {
    let res: Response;
    const zip = body instanceof Uint8Array;
    const raw = body instanceof RawBody ? body : null;
    try {
      res = await fetch(`${this.base}${path}`, {
        method,
        signal,
        headers: {
          authorization: `Bearer ${this.token}`,
          accept: "application/json",
          ...(body === undefined ? {} : { "content-type": raw ? raw.type : zip ? "application/zip" : "application/json" }),
          ...(raw ? { "content-length": String(raw.length) } : {}),
        },
        body: body === undefined ? undefined : raw ? raw.stream : zip ? (body as Uint8Array<ArrayBuffer>) : JSON.stringify(body),
        // A streamed body needs half duplex (undici).
        ...(raw ? { duplex: "half" } : {}),
      } as RequestInit);
    } catch (e) {
      throw new AppError("engine", `cannot reach ${this.base}: ${(e as Error).message}`, { cause: e });
    }
    if (!res.ok) {
      const data = (await res.json().catch(() => null)) as { error?: { kind?: string; message?: string; field?: string; step?: string } } | null;
      const kind = KINDS.includes(data?.error?.kind as ErrorKind) ? (data!.error!.kind as ErrorKind) : (BY_STATUS[res.status] ?? "internal");
      throw new AppError(kind, data?.error?.message ?? `HTTP ${res.status}`, { field: data?.error?.field, step: data?.error?.step });
    }
    return res;
  }

  private async json<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await (await this.request(method, path, body)).json()) as T;
  }

  /**
   * Follow one operation on the SSE stream until it ends; throw its error like the local backend.
   * `then`: when it is done (or at once when opId is null), follow the next operation of that name
   * on the same channel (an upgrade after the clone it runs on, the export a download starts).
   * `live`: no replay, only what happens after `onHello` (the stream is subscribed).
   */
  private async follow(
    scope: string,
    opId: string | null,
    onEvent: (ev: OpEvent) => void,
    opts: { then?: string; live?: boolean; onHello?: () => void; signal?: AbortSignal } = {},
  ): Promise<void> {
    // The server started no operation (nothing to do): there is nothing to follow.
    if (opId === null && opts.then === undefined) return;
    let current: string | null = opId;
    let next = opts.then;
    const ctl = new AbortController();
    const stop = () => ctl.abort();
    opts.signal?.addEventListener("abort", stop);
    // Events are numbered per channel; an id no channel reaches means "nothing from the past".
    const after = opts.live ? Number.MAX_SAFE_INTEGER : 0;
    const res = await this.request("GET", `/events?instance=${encodeURIComponent(scope)}&after=${after}`, undefined, ctl.signal);
    if (!res.body) throw new AppError("internal", "the event stream has no body");
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) throw new AppError("engine", "the event stream ended before the operation finished");
        buf += value;
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const frame = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const event = /^event: (.*)$/m.exec(frame)?.[1];
          if (event === "hello") opts.onHello?.();
          const data = frame.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (event !== "op" || !data) continue;
          const ev = JSON.parse(data) as OpEvent;
          if (current === null && ev.type === "start" && ev.op === next) [current, next] = [ev.opId, undefined];
          if (ev.opId !== current) continue;
          onEvent(ev);
          if (ev.type === "done" && next !== undefined) current = null;
          else if (ev.type === "done") return;
          if (ev.type === "error") {
            const kind = KINDS.includes(ev.errorKind as ErrorKind) ? (ev.errorKind as ErrorKind) : "internal";
            throw new AppError(kind, ev.message?.replace(/^[a-z]+ failed: /, "") ?? "operation failed", { step: ev.step });
          }
        }
      }
    } finally {
      opts.signal?.removeEventListener("abort", stop);
      ctl.abort();
    }
  }

  /** POST an operation, follow it, answer with the instance's view (what the local backend returns). */
  private async operate(name: string, path: string, body: unknown, onEvent: (ev: OpEvent) => void): Promise<InstanceView> {
    const r = await this.json<{ name?: string; operation: string | null }>("POST", path, body);
    const target = r.name ?? name;
    if (r.operation) await this.follow(target, r.operation, onEvent);
    return this.json<InstanceView>("GET", `/instances/${encodeURIComponent(target)}`);
  }

  async create(input: CreateRequest, onEvent: (ev: OpEvent) => void, blueprintFile?: string): Promise<InstanceView> {
    if (blueprintFile && ((await fs.stat(blueprintFile)).isDirectory() || (await fs.readFile(blueprintFile)).subarray(0, 2).toString("latin1") === "PK")) {
      throw new AppError("validation", "over --url, create --blueprint takes a blueprint.json; apply a bundle after create with `blueprint apply`", { field: "blueprint" });
    }
    const body = blueprintFile ? { ...input, blueprint: await fs.readFile(blueprintFile, "utf8") } : input;
    const r = await this.json<{ name: string; operation: string }>("POST", "/instances", body);
    await this.follow(r.name, r.operation, onEvent);
    return this.json<InstanceView>("GET", `/instances/${r.name}`);
  }

  /** A .json file or URL goes as JSON, a bundle ZIP as the raw body; a bundle folder must be zipped first. */
  async blueprintApply(name: string, file: string, opts: ApplyOptions, onEvent: (ev: OpEvent) => void): Promise<ApplyResult> {
    const at = `/instances/${encodeURIComponent(name)}/blueprint`;
    const flags = { force: opts.force, onError: opts.onError, allowUnsafe: opts.allowUnsafe };
    let r: { operation: string };
    if (/^https?:\/\//i.test(file)) {
      r = await this.json("POST", at, { url: file, ...flags });
    } else {
      if ((await fs.stat(file)).isDirectory()) throw new AppError("validation", "over --url a bundle folder must be sent as a ZIP: zip it and pass the .zip");
      const bytes = await fs.readFile(file);
      if (bytes[0] === 0x50 && bytes[1] === 0x4b) {
        const q = new URLSearchParams(Object.entries(flags).filter(([, v]) => v !== undefined).map(([k, v]) => [k, String(v)]));
        r = await this.json("POST", `${at}?${q}`, new Uint8Array(bytes));
      } else {
        r = await this.json("POST", at, { blueprint: bytes.toString("utf8"), ...flags });
      }
    }
    await this.follow(name, r.operation, onEvent);
    const state = await this.json<{ last: ApplyResult | null }>("GET", at);
    if (!state.last) throw new AppError("internal", "the blueprint operation finished without a result");
    return state.last;
  }

  async list(): Promise<InstanceView[]> {
    return (await this.json<{ instances: InstanceView[] }>("GET", "/instances")).instances;
  }

  async names(): Promise<string[]> {
    return (await this.list()).map((i) => i.name);
  }

  async info(name: string, showPassword: boolean): Promise<unknown> {
    const info = await this.json<Record<string, unknown>>("GET", `/instances/${encodeURIComponent(name)}`);
    if (!showPassword) return info;
    const s = await this.json<{ adminUser: string; adminPassword: string }>("GET", `/instances/${encodeURIComponent(name)}/secrets`);
    return { ...info, admin: { username: s.adminUser, password: s.adminPassword } };
  }

  loginLink(name: string): Promise<{ url: string; expiresAt: string }> {
    return this.json("POST", `/instances/${encodeURIComponent(name)}/login-link`, {});
  }

  async action(name: string, action: "start" | "stop" | "restart", onEvent: (ev: OpEvent) => void): Promise<InstanceView> {
    const r = await this.json<{ operation: string }>("POST", `/instances/${encodeURIComponent(name)}/actions/${action}`, {});
    await this.follow(name, r.operation, onEvent);
    return this.json<InstanceView>("GET", `/instances/${encodeURIComponent(name)}`);
  }

  async remove(name: string, onEvent: (ev: OpEvent) => void): Promise<void> {
    const r = await this.json<{ operation: string }>("DELETE", `/instances/${encodeURIComponent(name)}`);
    await this.follow(name, r.operation, onEvent);
  }

  async logs(name: string, service: string, opts: { tail?: number; follow?: boolean }, out: Writable): Promise<void> {
    const q = new URLSearchParams({ service, tail: String(opts.tail ?? 200), follow: opts.follow ? "1" : "0" });
    const res = await this.request("GET", `/instances/${encodeURIComponent(name)}/logs?${q}`);
    if (!res.body) return;
    const reader = res.body.getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      out.write(value);
    }
  }

  /** One command through POST …/exec: its NDJSON output to our stdout/stderr, its exit code returned. No TTY or stdin. */
  async exec(name: string, service: string, argv: string[]): Promise<number> {
    const res = await this.request("POST", `/instances/${encodeURIComponent(name)}/exec`, { service, argv });
    if (!res.body) throw new AppError("internal", "the exec answer has no body");
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    let buf = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new AppError("engine", "the exec stream ended before the command's exit code");
      buf += value;
      let i: number;
      while ((i = buf.indexOf("\n")) >= 0) {
        const m = JSON.parse(buf.slice(0, i)) as { stdout?: string; stderr?: string; exit?: number };
        buf = buf.slice(i + 1);
        if (m.stdout !== undefined) process.stdout.write(m.stdout);
        if (m.stderr !== undefined) process.stderr.write(m.stderr);
        if (m.exit !== undefined) return m.exit;
      }
    }
  }

  async imagesBuild(specs: string[], onLine: (l: string) => void): Promise<void> {
    const r = await this.json<{ operation: string }>("POST", "/images/build", { specs });
    await this.follow("_images", r.operation, (ev) => ev.type === "log" && ev.message && onLine(ev.message));
  }

  async imagesList(): Promise<unknown[]> {
    return (await this.json<{ images: unknown[] }>("GET", "/images")).images;
  }

  async imagesSave(dir: string, onLine: (l: string) => void): Promise<void> {
    const r = await this.json<{ operation: string }>("POST", "/images/save", { dir });
    await this.follow("_images", r.operation, (ev) => ev.type === "log" && ev.message && onLine(ev.message));
  }

  async upgrade(name: string, req: UpgradeInput, onEvent: (ev: OpEvent) => void): Promise<InstanceView> {
    const r = await this.json<{ name: string; operation: string }>("POST", `/instances/${encodeURIComponent(name)}/upgrade`, req);
    await this.follow(r.name, r.operation, onEvent, { then: req.clone ? "upgrade" : undefined });
    return this.json<InstanceView>("GET", `/instances/${encodeURIComponent(r.name)}`);
  }

  clone(from: string, to: string, onEvent: (ev: OpEvent) => void): Promise<InstanceView> {
    return this.operate(to, `/instances/${encodeURIComponent(from)}/clone`, { to }, onEvent);
  }

  switchPhp(name: string, version: string, onEvent: (ev: OpEvent) => void): Promise<InstanceView> {
    return this.operate(name, `/instances/${encodeURIComponent(name)}/php`, { version }, onEvent);
  }

  setProfile(name: string, profile: "dev" | "prod", onEvent: (ev: OpEvent) => void): Promise<InstanceView> {
    return this.operate(name, `/instances/${encodeURIComponent(name)}/profile`, { profile }, onEvent);
  }

  /**
   * The server packs the archive (its "export" operation, followed live for its steps), then
   * streams it; it is written to `file` with download progress.
   */
  async exportTo(name: string, file: string, onEvent: (ev: OpEvent) => void): Promise<{ file: string; bytes: number }> {
    const at = `/instances/${encodeURIComponent(name)}`;
    await this.json("GET", at);
    const stop = new AbortController();
    let hello!: () => void;
    const subscribed = new Promise<void>((r) => (hello = r));
    const watching = this.follow(name, null, onEvent, { then: "export", live: true, onHello: hello, signal: stop.signal }).catch(() => undefined);
    try {
      await Promise.race([subscribed, watching]);
      const res = await this.request("GET", `${at}/export`);
      if (!res.body) throw new AppError("internal", "the export answer has no body");
      const out = path.resolve(file);
      const bytes = await download(res.body, Number(res.headers.get("content-length") ?? 0), out, sayer(name, "download", onEvent));
      return { file: out, bytes };
    } finally {
      stop.abort();
      await watching;
    }
  }

  /** The archive is streamed up (progress while it goes), then the import operation is followed. */
  async importFrom(file: string, name: string, onEvent: (ev: OpEvent) => void): Promise<InstanceView> {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new AppError("validation", "import takes an export archive (.tar.gz)", { field: "file" });
    const body = new RawBody(uploadStream(file, st.size, sayer(name, "upload", onEvent)), "application/gzip", st.size);
    const r = await this.json<{ name: string; operation: string }>("POST", `/import?name=${encodeURIComponent(name)}`, body);
    await this.follow(r.name, r.operation, onEvent);
    return this.json<InstanceView>("GET", `/instances/${encodeURIComponent(r.name)}`);
  }

  /** Like the local backend: list → the snapshots, create → {id, bytes}, restore → the instance's view. */
  async snapshot(name: string, action: "create" | "list" | "restore", arg: string | undefined, onEvent: (ev: OpEvent) => void): Promise<unknown> {
    const at = `/instances/${encodeURIComponent(name)}/snapshots`;
    type Snap = { id: string; bytes: number; createdAt: string };
    const list = async () => (await this.json<{ snapshots: Snap[] }>("GET", at)).snapshots;
    if (action === "list") return list();
    if (action === "restore") {
      if (!arg) throw new AppError("validation", "snapshot restore needs a snapshot id", { field: "id" });
      return this.operate(name, `${at}/${encodeURIComponent(arg)}/restore`, {}, onEvent);
    }
    const before = new Set((await list()).map((s) => s.id));
    const r = await this.json<{ operation: string }>("POST", at, arg ? { label: arg } : {});
    await this.follow(name, r.operation, onEvent);
    const made = (await list()).find((s) => !before.has(s.id));
    if (!made) throw new AppError("internal", "the snapshot finished but is not in the list");
    return { id: made.id, bytes: made.bytes };
  }

  async reconcile(): Promise<ReconcileReport> {
    return this.json<ReconcileReport>("POST", "/reconcile");
  }

  moodleList(): Promise<MoodleLibrary> {
    return this.json<MoodleLibrary>("GET", "/moodle");
  }

  /** A package is streamed as the raw body; the server unpacks it and answers with the build. */
  async moodleAdd(file: string, onEvent: (ev: OpEvent) => void): Promise<BuildInfo> {
    const st = await fs.stat(file);
    if (!st.isFile()) throw new AppError("validation", "over --url, moodle add takes a package (.tgz, .tar.gz or .zip): pack the folder first", { field: "path" });
    const name = path.basename(file);
    const say = sayer("_moodle", "upload", onEvent);
    const res = await this.request("POST", `/moodle/upload?filename=${encodeURIComponent(name)}`, new RawBody(uploadStream(file, st.size, say), "application/octet-stream", st.size));
    const r = (await res.json()) as { build: BuildInfo };
    say(`${r.build.id}: Moodle ${r.build.release}`);
    return r.build;
  }

  async moodleDownload(req: DownloadRequest, onEvent: (ev: OpEvent) => void): Promise<BuildInfo> {
    const r = await this.json<{ operation: string }>("POST", "/moodle/download", req);
    let id: string | null = null;
    await this.follow("_moodle", r.operation, (ev) => {
      onEvent(ev);
      const m = ev.type === "log" ? BUILD_LINE.exec(ev.message ?? "") : null;
      if (m) id = m[1];
    });
    const build = (await this.moodleList()).builds.find((b) => b.id === id);
    if (!build) throw new AppError("internal", "the download finished but its build is not in the library");
    return build;
  }

  async moodleRemove(id: string): Promise<void> {
    await this.json("DELETE", `/moodle/${encodeURIComponent(id)}`);
  }

  async configList(name: string): Promise<ConfigFile[]> {
    return (await this.json<{ files: ConfigFile[] }>("GET", `/instances/${encodeURIComponent(name)}/config`)).files;
  }

  configGet(name: string, dir: string, file: string): Promise<ConfigFile & { content: string }> {
    return this.json("GET", `/instances/${encodeURIComponent(name)}/config/${encodeURIComponent(dir)}/${encodeURIComponent(file)}`);
  }

  configSet(name: string, dir: string, file: string, content: string): Promise<ConfigSaved> {
    return this.json("PUT", `/instances/${encodeURIComponent(name)}/config/${encodeURIComponent(dir)}/${encodeURIComponent(file)}`, { content });
  }

  mailList(name: string): Promise<{ total: number; messages: MailSummary[] }> {
    return this.json("GET", `/instances/${encodeURIComponent(name)}/mail?limit=500`);
  }

  mailShow(name: string, id: string): Promise<MailMessage> {
    return this.json("GET", `/instances/${encodeURIComponent(name)}/mail/${encodeURIComponent(id)}`);
  }

  async mailClear(name: string): Promise<number> {
    return (await this.json<{ deleted: number }>("DELETE", `/instances/${encodeURIComponent(name)}/mail`)).deleted;
  }
}
