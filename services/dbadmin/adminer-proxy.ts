import { authenticateHeaders, checkOrigin, parseCookies } from "../auth";
import { adminerBackend } from "./dbadmin";

/**
 * The dashboard's /adminer proxy: Adminer runs on 127.0.0.1 (php -S) and is reachable only through
 * here, behind the dashboard session or an API token. Adminer's forms post without the dashboard's
 * CSRF header, so mutations are held to a same-origin check instead (the session cookie is also
 * SameSite=Strict) and Adminer's own per-session CSRF token still applies inside.
 */
const MAX_BODY = 64 * 1024 * 1024;
const FORWARD_REQ = ["accept", "accept-language", "content-type", "user-agent", "if-modified-since", "if-none-match"];
const DROP_RES = new Set(["connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding", "set-cookie"]);

function problem(status: number, message: string): Response {
  const kind = status === 401 ? "unauthorized" : status === 403 ? "forbidden" : status === 413 ? "validation" : "engine";
  return Response.json({ error: { kind, message } }, { status, headers: { "cache-control": "no-store" } });
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
  const headers = new Headers();
  for (const h of FORWARD_REQ) {
    const v = req.headers.get(h);
    if (v) headers.set(h, v);
  }
  // Only Adminer's own cookies go to PHP: the dashboard session never leaves this process.
  const adminerCookies = Object.entries(parseCookies(req.headers.get("cookie")))
    .filter(([k]) => /^adminer_[a-z_]+$/.test(k))
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  if (adminerCookies.length) headers.set("cookie", adminerCookies.join("; "));
  const host = req.headers.get("host");
  if (host) headers.set("x-forwarded-host", host);

  let body: ArrayBuffer | undefined;
  if (method !== "GET" && method !== "HEAD") {
    if (Number(req.headers.get("content-length") ?? "0") > MAX_BODY) return problem(413, "request body too large");
    body = await req.arrayBuffer();
    if (body.byteLength > MAX_BODY) return problem(413, "request body too large");
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
  out.set("cache-control", "no-store");
  return new Response(method === "HEAD" ? null : res.body, { status: res.status, headers: out });
}
