import { lookup as dnsLookup } from "node:dns/promises";
import http from "node:http";
import https from "node:https";
import type { IncomingMessage } from "node:http";
import type { LookupFunction } from "node:net";
import { literalAddress, nonPublicReason } from "./public-address";

/**
 * An HTTP(S) GET that reaches public addresses only (public-address.ts), for downloads a user can
 * point anywhere. The name is resolved and every address checked before any connection; the
 * connection then goes to the address that was checked (the socket's lookup is pinned to it), so a
 * DNS answer that changes between the check and the connect (rebinding) cannot send it elsewhere.
 * Redirects are followed by hand, at most `maxRedirects`, and every hop is checked the same way.
 */

export type Resolve = (hostname: string) => Promise<{ address: string; family: number }[]>;

export interface GuardOptions {
  /** Name resolution; tests inject a stub. Default: the system resolver (getaddrinfo, /etc/hosts included). */
  resolve?: Resolve;
  /**
   * `host:port` pairs exempt from the address check (still pinned to what they resolve to):
   * a local test server or mirror. Normalised with parseAllowHosts.
   */
  allowHosts?: readonly string[];
  maxRedirects?: number;
  signal?: AbortSignal;
}

/** The target was refused before any connection to it: not public, not http(s), too many hops. */
export class RefusedTargetError extends Error {}

export interface GuardedResponse {
  /** The URL that answered, after redirects. */
  url: string;
  status: number;
  headers: http.IncomingHttpHeaders;
  body: IncomingMessage;
}

const systemResolve: Resolve = async (host) => dnsLookup(host, { all: true, verbatim: true });

const defaultPort = (u: URL) => u.port || (u.protocol === "https:" ? "443" : "80");

/** "host:port" as URL parsing spells it (lower case, IPv6 in brackets, numeric forms normalised). */
function hostKey(u: URL): string {
  return `${u.hostname}:${defaultPort(u)}`;
}

/** Normalise an allowlist ("127.0.0.1:8080, mirror.local:80"); throws naming `source` on a bad entry. */
export function parseAllowHosts(list: string, source: string): string[] {
  const out: string[] = [];
  for (const raw of list.split(/[\s,]+/).filter(Boolean)) {
    const m = /^(.+):(\d{1,5})$/.exec(raw);
    let u: URL | null = null;
    try {
      u = m ? new URL(`http://${m[1]}/`) : null;
    } catch {
      u = null;
    }
    if (!m || !u || u.username || u.password || u.port || u.pathname !== "/" || u.search || Number(m[2]) > 65535) {
      throw new RefusedTargetError(`${source}: '${raw}' is not host:port (an explicit port is required)`);
    }
    out.push(`${u.hostname}:${Number(m[2])}`);
  }
  return out;
}

interface Target {
  address: string;
  family: number;
}

/** Where a URL may be fetched from: its checked (or allowlisted) address. Never connects. */
export async function checkTarget(u: URL, opts: GuardOptions = {}): Promise<Target> {
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new RefusedTargetError(`only http and https URLs are allowed, not ${u.protocol}`);
  const allowed = opts.allowHosts?.includes(hostKey(u)) ?? false;
  const literal = literalAddress(u);
  if (literal) {
    const why = allowed ? null : nonPublicReason(literal);
    if (why) throw new RefusedTargetError(`${u.host} is a ${why} address; downloads may only reach public addresses`);
    return { address: literal, family: literal.includes(":") ? 6 : 4 };
  }
  let addrs: Target[];
  try {
    addrs = await (opts.resolve ?? systemResolve)(u.hostname);
  } catch (e) {
    throw new Error(`cannot resolve ${u.hostname}: ${(e as Error).message}`);
  }
  if (addrs.length === 0) throw new Error(`cannot resolve ${u.hostname}: no addresses`);
  if (!allowed) {
    // Every answer, not just the first: which one a client would pick is not ours to predict.
    for (const a of addrs) {
      const why = nonPublicReason(a.address);
      if (why) throw new RefusedTargetError(`${u.hostname} resolves to ${a.address}, a ${why} address; downloads may only reach public addresses`);
    }
  }
  return addrs[0];
}

/** A lookup that answers only the checked address, whatever the name (the socket asks once). */
function pinned(t: Target): LookupFunction {
  return ((_host: string, options: { all?: boolean }, cb: (...args: unknown[]) => void) => {
    if (options?.all) cb(null, [{ address: t.address, family: t.family }]);
    else cb(null, t.address, t.family);
  }) as unknown as LookupFunction;
}

function request(u: URL, t: Target, signal?: AbortSignal): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const mod = u.protocol === "https:" ? https : http;
    const req = mod.request(
      {
        method: "GET",
        hostname: literalAddress(u) ?? u.hostname,
        port: defaultPort(u),
        path: `${u.pathname}${u.search}`,
        headers: { "user-agent": "moodle-dind", accept: "*/*" },
        // No pooled sockets: each connection is made here, to the address just checked.
        agent: false,
        lookup: pinned(t),
        signal,
      },
      resolve,
    );
    req.on("error", reject);
    req.end();
  });
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** GET `url`, following redirects by hand, each hop checked and pinned. The caller reads or destroys `body`. */
export async function guardedGet(url: string, opts: GuardOptions = {}): Promise<GuardedResponse> {
  const max = opts.maxRedirects ?? 5;
  let u = new URL(url);
  for (let hop = 0; ; hop++) {
    if (u.username || u.password) throw new RefusedTargetError("URLs with embedded credentials are not allowed");
    const target = await checkTarget(u, opts);
    const res = await request(u, target, opts.signal);
    const location = res.headers.location;
    if (!REDIRECTS.has(res.statusCode ?? 0) || !location) {
      return { url: u.href, status: res.statusCode ?? 0, headers: res.headers, body: res };
    }
    res.destroy();
    if (hop >= max) throw new RefusedTargetError(`more than ${max} redirects`);
    let next: URL;
    try {
      next = new URL(location, u);
    } catch {
      throw new RefusedTargetError(`redirected to an invalid URL`);
    }
    if (next.protocol !== "http:" && next.protocol !== "https:") throw new RefusedTargetError(`redirected to a non-http URL (${next.protocol})`);
    u = next;
  }
}
