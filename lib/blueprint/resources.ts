import { ValidationError } from "../errors";
import { guardedGet, parseAllowHosts, RefusedTargetError, type GuardedResponse, type Resolve } from "../net/guarded-get";
import { literalAddress, nonPublicReason } from "../net/public-address";
import { canonicalJson, isJsonObject, type JsonValue } from "./json";
import { DEFAULT_POLICY, type BlueprintPolicy } from "./policy";
import { safeRelativePath } from "./safe-path";
import { withDeadline } from "../deadline";

/**
 * Resource descriptors, in the Moodle Playground shape: an object with exactly one source key.
 * WordPress Playground's `{ "resource": "url", "url": … }` shape is accepted on input and normalised to it.
 */
export const RESOURCE_KINDS = ["url", "base64", "data-url", "literal", "bundled", "vfs"] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export type ResourceDescriptor =
  | { url: string }
  | { base64: string }
  | { "data-url": string }
  | { literal: JsonValue }
  | { bundled: string };

export function resourceKind(d: ResourceDescriptor): Exclude<ResourceKind, "vfs"> {
  return Object.keys(d)[0] as Exclude<ResourceKind, "vfs">;
}

const VFS_MESSAGE =
  "'vfs' resources point into Moodle Playground's in-browser filesystem, which moodle-dind does not have; " +
  "put the file in a blueprint bundle and use { \"bundled\": \"path/in/bundle\" } instead";

const BASE64_RE = /^[A-Za-z0-9+/_-]*={0,2}$/;
const DATA_URL_RE = /^data:([^,]*?)(;base64)?,(.*)$/s;

/** Upper bound of the decoded size of base64 text, so oversized inline data is refused before decoding. */
function base64Size(s: string): number {
  return Math.floor((s.replace(/[\s=]/g, "").length * 3) / 4);
}

function checkUrl(raw: string, policy: BlueprintPolicy, where: string): string {
  let u: URL;
  try {
    u = new URL(raw);
  } catch {
    throw new ValidationError(`${where}: ${JSON.stringify(raw)} is not a valid URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") {
    throw new ValidationError(`${where}: only http and https URLs are allowed, not ${u.protocol}`);
  }
  // Credentials in a URL end up in logs and progress output.
  if (u.username || u.password) throw new ValidationError(`${where}: URLs with embedded credentials are not allowed`);
  if (!policy.allowUrls) {
    throw new ValidationError(`${where}: downloading ${u.origin} is disabled; URL resources need policy.allowUrls`);
  }
  // A literal private address is refused here already; names are resolved and checked at download time.
  const literal = literalAddress(u);
  const why = literal && !allowedHosts().includes(`${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`) ? nonPublicReason(literal) : null;
  if (why) throw new ValidationError(`${where}: ${u.host} is a ${why} address; blueprint downloads may only reach public addresses`);
  return raw;
}

/**
 * MDIND_BLUEPRINT_ALLOW_HOSTS: `host:port` pairs that blueprint downloads may reach although they
 * are not public (a test's 127.0.0.1 server, a local mirror). For tests and mirrors only: each entry
 * opens that one port to anyone who can submit a blueprint. Read at every call, so a test sets it
 * after starting its server.
 */
export const ALLOW_HOSTS_ENV = "MDIND_BLUEPRINT_ALLOW_HOSTS";

function allowedHosts(): string[] {
  try {
    return parseAllowHosts(process.env[ALLOW_HOSTS_ENV] ?? "", ALLOW_HOSTS_ENV);
  } catch (e) {
    throw new ValidationError((e as Error).message, ALLOW_HOSTS_ENV);
  }
}

export interface NormaliseContext {
  /** Already-normalised named resources, for "@name" references. */
  resources: Record<string, ResourceDescriptor>;
  policy: BlueprintPolicy;
  where: string;
  /** How to read a plain string that is not "@name": as text content, as a URL, or not at all. */
  plainString?: "literal" | "url" | "refuse";
}

/** Turn whatever a blueprint wrote in a resource position into a checked descriptor. */
export function normaliseResource(value: unknown, ctx: NormaliseContext): ResourceDescriptor {
  const { policy, where } = ctx;
  if (typeof value === "string") {
    if (value.startsWith("@")) {
      const name = value.slice(1);
      if (!Object.hasOwn(ctx.resources, name)) {
        const known = Object.keys(ctx.resources);
        throw new ValidationError(
          `${where}: unknown resource reference '${value}'` +
            (known.length ? ` (declared: ${known.map((k) => `@${k}`).join(", ")})` : " (the blueprint declares no resources)"),
        );
      }
      return ctx.resources[name];
    }
    if (ctx.plainString === "literal") return normaliseResource({ literal: value }, ctx);
    if (ctx.plainString === "url") return normaliseResource({ url: value }, ctx);
    throw new ValidationError(`${where}: expected a resource descriptor or an '@name' reference`);
  }
  if (!isJsonObject(value)) throw new ValidationError(`${where}: expected a resource descriptor or an '@name' reference`);

  let obj: Record<string, unknown> = value;
  if (typeof obj.resource === "string") obj = fromWordPressShape(obj, where);

  const keys = Object.keys(obj);
  const kinds = keys.filter((k) => (RESOURCE_KINDS as readonly string[]).includes(k));
  if (kinds.length !== 1) {
    throw new ValidationError(
      kinds.length === 0
        ? `${where}: a resource needs exactly one of ${RESOURCE_KINDS.join(", ")}`
        : `${where}: a resource needs exactly one source key, found ${kinds.join(", ")}`,
    );
  }
  const extra = keys.filter((k) => k !== kinds[0]);
  if (extra.length) throw new ValidationError(`${where}: unknown resource field(s) ${extra.join(", ")}`);
  const kind = kinds[0] as ResourceKind;
  const v = obj[kind];

  switch (kind) {
    case "vfs":
      throw new ValidationError(`${where}: ${VFS_MESSAGE}`);
    case "url":
      if (typeof v !== "string") throw new ValidationError(`${where}: 'url' must be a string`);
      return { url: checkUrl(v, policy, where) };
    case "base64": {
      if (typeof v !== "string") throw new ValidationError(`${where}: 'base64' must be a string`);
      const compact = v.replace(/\s+/g, "");
      if (!BASE64_RE.test(compact)) throw new ValidationError(`${where}: 'base64' is not valid base64`);
      if (base64Size(compact) > policy.maxResourceBytes) throw tooBig(where, policy);
      return { base64: compact };
    }
    case "data-url": {
      if (typeof v !== "string") throw new ValidationError(`${where}: 'data-url' must be a string`);
      const m = DATA_URL_RE.exec(v);
      if (!m) throw new ValidationError(`${where}: 'data-url' is not a data: URL`);
      if (m[2] && !BASE64_RE.test(m[3].replace(/\s+/g, ""))) throw new ValidationError(`${where}: 'data-url' has invalid base64`);
      const size = m[2] ? base64Size(m[3]) : m[3].length;
      if (size > policy.maxResourceBytes) throw tooBig(where, policy);
      return { "data-url": v };
    }
    case "literal": {
      const text = typeof v === "string" ? v : JSON.stringify(v);
      if (Buffer.byteLength(text) > policy.maxResourceBytes) throw tooBig(where, policy);
      return { literal: v as JsonValue };
    }
    case "bundled":
      if (typeof v !== "string") throw new ValidationError(`${where}: 'bundled' must be a path string`);
      return { bundled: safeRelativePath(v, `${where}: bundled path`) };
  }
}

function fromWordPressShape(obj: Record<string, unknown>, where: string): Record<string, unknown> {
  const { resource, ...rest } = obj;
  const pick = (key: string): Record<string, unknown> => {
    const extra = Object.keys(rest).filter((k) => k !== key && k !== "name");
    if (extra.length) throw new ValidationError(`${where}: unknown resource field(s) ${extra.join(", ")}`);
    return rest;
  };
  switch (resource) {
    case "url":
      return { url: pick("url").url };
    case "literal":
      return { literal: pick("contents").contents };
    case "bundled":
      return { bundled: pick("path").path };
    case "vfs":
      return { vfs: rest.path };
    default:
      throw new ValidationError(`${where}: unsupported resource type '${String(resource)}'`);
  }
}

function tooBig(where: string, policy: BlueprintPolicy): ValidationError {
  return new ValidationError(`${where}: resource is larger than the ${policy.maxResourceBytes}-byte limit`);
}

/** Read access to the files of a blueprint bundle, relative to the folder holding blueprint.json. */
export interface BundleFiles {
  readFile(relPath: string, maxBytes: number): Promise<Buffer>;
}

export interface ResolverOptions {
  policy?: BlueprintPolicy;
  bundle?: BundleFiles;
  /** Name resolution for downloads; tests inject a stub. */
  net?: NetOptions;
}

export interface NetOptions {
  resolve?: Resolve;
}

/**
 * Turns descriptors into bytes, once per run: results are cached by the descriptor's canonical JSON, so
 * a resource used by several steps is downloaded or decoded once. Policy is checked again here, not only
 * at parse time, because descriptors can reach the resolver from code that skipped the parser.
 */
export class ResourceResolver {
  private readonly cache = new Map<string, Promise<Buffer>>();
  private readonly policy: BlueprintPolicy;
  private readonly bundle?: BundleFiles;
  private readonly net?: NetOptions;

  constructor(opts: ResolverOptions = {}) {
    this.policy = opts.policy ?? { ...DEFAULT_POLICY };
    this.bundle = opts.bundle;
    this.net = opts.net;
  }

  async resolve(desc: ResourceDescriptor, where = "resource"): Promise<Buffer> {
    const checked = normaliseResource(desc, { resources: {}, policy: this.policy, where, plainString: "refuse" });
    const key = canonicalJson(checked);
    let p = this.cache.get(key);
    if (!p) {
      p = this.load(checked, where);
      this.cache.set(key, p);
      // A failure is not cached: a retry of the run should try again.
      p.catch(() => this.cache.delete(key));
    }
    return p;
  }

  /** Number of distinct resources loaded or loading (for tests and diagnostics). */
  get size(): number {
    return this.cache.size;
  }

  private async load(desc: ResourceDescriptor, where: string): Promise<Buffer> {
    const max = this.policy.maxResourceBytes;
    let buf: Buffer;
    if ("url" in desc) {
      buf = await fetchCapped(desc.url, { maxBytes: max, timeoutMs: this.policy.fetchTimeoutMs, net: this.net, where });
    } else if ("base64" in desc) {
      buf = Buffer.from(desc.base64, desc.base64.includes("-") || desc.base64.includes("_") ? "base64url" : "base64");
    } else if ("data-url" in desc) {
      const m = DATA_URL_RE.exec(desc["data-url"]);
      if (!m) throw new ValidationError(`${where}: 'data-url' is not a data: URL`);
      if (m[2]) {
        buf = Buffer.from(m[3], "base64");
      } else {
        try {
          buf = Buffer.from(decodeURIComponent(m[3]));
        } catch {
          throw new ValidationError(`${where}: 'data-url' has invalid percent-encoding`);
        }
      }
    } else if ("literal" in desc) {
      buf = Buffer.from(typeof desc.literal === "string" ? desc.literal : JSON.stringify(desc.literal));
    } else {
      if (!this.bundle) throw new ValidationError(`${where}: bundled resource '${desc.bundled}' needs a blueprint bundle (a folder or ZIP), not a bare blueprint.json`);
      buf = await this.bundle.readFile(desc.bundled, max);
    }
    if (buf.length > max) throw new ValidationError(`${where}: resource is larger than the ${max}-byte limit`);
    return buf;
  }
}

/**
 * Download with a hard byte cap enforced while streaming: Content-Length is only a hint (it can be
 * missing or wrong), so the body is counted as it arrives and the transfer is cancelled at the cap.
 * Only public addresses are reached, on every redirect hop, pinned against DNS rebinding
 * (lib/net/guarded-get.ts); MDIND_BLUEPRINT_ALLOW_HOSTS exempts listed host:port pairs.
 */
export function fetchCapped(
  url: string,
  opts: { maxBytes: number; timeoutMs: number; net?: NetOptions; where?: string },
): Promise<Buffer> {
  // The deadline covers the whole transfer, body included.
  return withDeadline(opts.timeoutMs, (signal) => fetchCappedWithin(url, opts, signal));
}

async function fetchCappedWithin(
  url: string,
  opts: { maxBytes: number; net?: NetOptions; where?: string },
  signal: AbortSignal,
): Promise<Buffer> {
  const where = opts.where ?? "resource";
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ValidationError(`${where}: ${JSON.stringify(url)} is not a valid URL`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new ValidationError(`${where}: only http and https URLs are allowed`);
  let res: GuardedResponse;
  try {
    res = await guardedGet(u.href, { resolve: opts.net?.resolve, allowHosts: allowedHosts(), signal });
  } catch (e) {
    if (e instanceof RefusedTargetError) throw new ValidationError(`${where}: refused ${u.origin}${u.pathname}: ${e.message}`);
    if (e instanceof ValidationError) throw e;
    throw new ValidationError(`${where}: could not download ${u.origin}${u.pathname}: ${(e as Error).message}`);
  }
  const body = res.body;
  if (res.status < 200 || res.status > 299) {
    body.destroy();
    throw new ValidationError(`${where}: ${u.origin}${u.pathname} answered HTTP ${res.status}`);
  }
  const declared = Number(res.headers["content-length"]);
  if (Number.isFinite(declared) && declared > opts.maxBytes) {
    body.destroy();
    throw new ValidationError(`${where}: download is ${declared} bytes, over the ${opts.maxBytes}-byte limit`);
  }
  const chunks: Buffer[] = [];
  let total = 0;
  try {
    for await (const chunk of body as AsyncIterable<Buffer>) {
      total += chunk.length;
      if (total > opts.maxBytes) {
        body.destroy();
        throw new ValidationError(`${where}: download exceeded the ${opts.maxBytes}-byte limit`);
      }
      chunks.push(chunk);
    }
  } catch (e) {
    if (e instanceof ValidationError) throw e;
    throw new ValidationError(`${where}: download of ${u.origin}${u.pathname} failed: ${(e as Error).message}`);
  }
  return Buffer.concat(chunks, total);
}
