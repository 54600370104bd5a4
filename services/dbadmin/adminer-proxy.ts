import { readRequestCapped } from "../../lib/body";
import { authenticateHeaders, checkOrigin, parseCookies, SESSION_COOKIE } from "../auth";
import { touchTunnel } from "../cluster/dbtunnel";
import { adminerBackend, peekAdminerLogin } from "./dbadmin";
import { GRANT_COOKIE, grantCookie, readGrant } from "./grant";
import { ownerKey } from "./owner";
import { formHasLogin, isInstanceDbServer, queryTarget, targetKey, tunnelGrantKey, tunnelPort, type TargetKey } from "./target";

/**
 * The dashboard's /adminer proxy: Adminer runs on 127.0.0.1 (php -S) and is reachable only through
 * here, behind the dashboard session or an API token. Adminer's forms post without the dashboard's
 * CSRF header, so mutations are held to a same-origin check instead (the session cookie is also
 * SameSite=Strict) and Adminer's own per-session CSRF token still applies inside.
 *
 * Adminer connects to whatever server a request names before it judges it, so the proxy judges
 * first: a request may name only a database a one-time login granted to this browser (see
 * grant.ts), and Adminer's own login form (auth[…]) is refused, as logins come only from those
 * links. The PHP wrapper (dind/host/adminer/index.php) repeats the address rule. A cluster
 * instance's database is named by its tunnel's 127.0.0.1 port (services/cluster/dbtunnel.ts): such
 * a target passes only while that very tunnel is open, for the session that opened it, and only
 * with a grant from that tunnel's own login.
 */
const MAX_BODY = 64 * 1024 * 1024;
const FORWARD_REQ = ["accept", "accept-language", "content-type", "user-agent", "if-modified-since", "if-none-match"];
/** Hop-by-hop headers, what the proxy sets itself, and what only tells a prober about the inside. */
const DROP_RES = new Set([
  "connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "set-cookie",
  "x-powered-by", "host", "server",
]);

function problem(status: number, message: string): Response {
  const kind = status === 401 ? "unauthorized" : status === 403 ? "forbidden" : status === 400 || status === 413 ? "validation" : "engine";
  return Response.json({ error: { kind, message } }, { status, headers: { "cache-control": "no-store" } });
}

const isSecure = (req: Request) => new URL(req.url).protocol === "https:" || req.headers.get("x-forwarded-proto") === "https";

/** The body's form fields as PHP would see them, or null when PHP would not parse it into $_POST. */
async function formKeys(body: ArrayBuffer, contentType: string): Promise<string[] | null> {
  const ct = contentType.toLowerCase();
  if (ct.startsWith("application/x-www-form-urlencoded")) return [...new URLSearchParams(Buffer.from(body).toString("latin1")).keys()];
  if (ct.startsWith("multipart/form-data")) {
    const form = await new Response(body, { headers: { "content-type": contentType } }).formData();
    return [...form.keys()];
  }
  return null;
}

/** What a request may do: refused with a reason, or forwarded (granting a target on a one-time link). */
async function judge(url: URL, granted: TargetKey[], owner: string): Promise<{ refuse: Response } | { grant: TargetKey | null }> {
  const keys = [...url.searchParams.keys()];
  if (keys.includes("mdind_token")) {
    if (keys.length !== 1) return { refuse: problem(400, "a DB admin link carries its token and nothing else") };
    const t = await peekAdminerLogin(url.searchParams.get("mdind_token") ?? "");
    // An unknown or spent token is forwarded without a grant: the wrapper answers it (410).
    if (!t) return { grant: null };
    if (tunnelPort(t.server) !== null) return { grant: tunnelGrantKey(targetKey(t), owner, t.tunnel ?? "") };
    return { grant: isInstanceDbServer(t.server) ? targetKey(t) : null };
  }
  const q = queryTarget(url.searchParams);
  if (!q.ok) return { refuse: problem(403, q.reason) };
  if (q.target === null) return { grant: null };
  const key = tunnelGrantKey(q.target, owner);
  if (key === null || !granted.includes(key)) {
    return { refuse: problem(403, "open this instance's DB admin from the dashboard first (its one-time link grants its database)") };
  }
  const port = tunnelPort(q.target.slice(q.target.indexOf(":") + 1));
  if (port !== null) touchTunnel(port);
  return { grant: null };
}

export async function proxyAdminer(req: Request): Promise<Response> {
  const who = await authenticateHeaders({
    cookie: req.headers.get("cookie") ?? undefined,
    authorization: req.headers.get("authorization") ?? undefined,
  });
  if (!who) return problem(401, "authentication required");
  const method = req.method.toUpperCase();
  if (method !== "GET" && method !== "HEAD") {
    const site = req.headers.get("sec-fetch-site");
    if ((site && site !== "same-origin" && site !== "none") || !checkOrigin(req.headers.get("origin") ?? undefined, req.headers.get("host") ?? undefined)) {
      return problem(403, "cross-site request refused");
    }
  }
  const url = new URL(req.url);
  const cookies = parseCookies(req.headers.get("cookie"));
  const granted = readGrant(cookies[GRANT_COOKIE]);
  const verdict = await judge(url, granted, ownerKey(who, cookies[SESSION_COOKIE]));
  if ("refuse" in verdict) return verdict.refuse;

  const headers = new Headers();
  for (const h of FORWARD_REQ) {
    const v = req.headers.get(h);
    if (v) headers.set(h, v);
  }
  // Only Adminer's own cookies go to PHP: the dashboard session never leaves this process.
  const adminerCookies = Object.entries(cookies)
    .filter(([k]) => /^adminer_[a-z_]+$/.test(k))
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  if (adminerCookies.length) headers.set("cookie", adminerCookies.join("; "));
  const host = req.headers.get("host");
  if (host) headers.set("x-forwarded-host", host);

  let body: ArrayBuffer | undefined;
  if (method !== "GET" && method !== "HEAD") {
    try {
      const buf = await readRequestCapped(req, MAX_BODY);
      body = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
    } catch {
      return problem(413, "request body too large");
    }
    const keys = await formKeys(body, req.headers.get("content-type") ?? "").catch(() => undefined);
    if (keys === undefined) return problem(400, "malformed form body");
    if (keys && formHasLogin(keys)) return problem(403, "Adminer's login form is off here: open the DB admin from the dashboard");
  }
  let res: Response;
  try {
    res = await fetch(`${adminerBackend()}/adminer${url.search}`, { method, headers, body, redirect: "manual" });
  } catch {
    return problem(503, "the DB admin (Adminer) is not running; it is part of the DinD host (`moodle-dind up`)");
  }
  const out = new Headers();
  res.headers.forEach((v, k) => {
    if (!DROP_RES.has(k)) out.set(k, v);
  });
  for (const c of res.headers.getSetCookie()) out.append("set-cookie", c);
  // Adminer answers a good one-time login with a redirect to the database; only then is it granted.
  if (verdict.grant && res.status >= 300 && res.status < 400) out.append("set-cookie", grantCookie(granted, verdict.grant, isSecure(req)));
  out.set("cache-control", "no-store");
  return new Response(method === "HEAD" ? null : res.body, { status: res.status, headers: out });
}
