import { createHash, timingSafeEqual } from "node:crypto";
import { AppError } from "../../lib/errors";
import { DEVICE_COOKIE, deviceCookie, issueDevice, verifyDevice } from "./device";
import { loginLimiter } from "./ratelimit";
import { checkPassword, createSession, getSession, verifyToken, type SessionRecord } from "./store";

/**
 * Who is calling, and the checks every edge runs:
 *  - browser sessions: cookie `mdind_session` (httpOnly, SameSite=Strict), random id stored hashed
 *    with an expiry; mutations also need header `x-mdind-csrf` equal to the session's CSRF token
 *    (readable by the UI from cookie `mdind_csrf`) and, when the browser says where it comes from,
 *    a same-origin Origin / Sec-Fetch-Site;
 *  - API tokens: `Authorization: Bearer mdind_<id>_<secret>`, exempt from CSRF (no ambient credential).
 */
export interface Principal {
  user: string;
  via: "session" | "token" | "none";
  /** The token's id when via = "token". */
  tokenId?: string;
}

export const SESSION_COOKIE = "mdind_session";
export const CSRF_COOKIE = "mdind_csrf";
export const CSRF_HEADER = "x-mdind-csrf";
/** Set by server.ts from the socket (any client-sent value is dropped there); used for rate limits. */
export const REMOTE_ADDR_HEADER = "x-mdind-remote-addr";

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function parseCookies(header: string | null | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header) return out;
  for (const part of header.split(";")) {
    const i = part.indexOf("=");
    if (i < 0) continue;
    const k = part.slice(0, i).trim();
    if (!k || k in out) continue;
    try {
      out[k] = decodeURIComponent(part.slice(i + 1).trim());
    } catch {
      out[k] = part.slice(i + 1).trim();
    }
  }
  return out;
}

function bearer(authorization: string | null | undefined): string | null {
  if (!authorization) return null;
  const m = /^Bearer\s+(\S+)$/i.exec(authorization.trim());
  return m ? m[1] : null;
}

async function resolve(headers: { cookie?: string | null; authorization?: string | null }): Promise<
  { principal: Principal; session: SessionRecord | null } | null
> {
  const tok = bearer(headers.authorization);
  if (headers.authorization) {
    // A request that names a token is judged by that token alone, never by a cookie riding along.
    if (!tok) return null;
    const rec = await verifyToken(tok);
    return rec ? { principal: { user: "admin", via: "token", tokenId: rec.id }, session: null } : null;
  }
  const sid = parseCookies(headers.cookie)[SESSION_COOKIE];
  const session = getSession(sid);
  return session ? { principal: { user: session.user, via: "session" }, session } : null;
}

/** For the WebSocket upgrade and the proxy: who is this, from raw headers; null when nobody. */
export async function authenticateHeaders(headers: { cookie?: string; authorization?: string }): Promise<Principal | null> {
  return (await resolve(headers))?.principal ?? null;
}

/**
 * True when a browser-sent Origin names the host the request came to. A missing Origin is a
 * non-browser client (curl, the CLI) and passes; the literal "null" (sandboxed frames, file://) fails.
 */
export function checkOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined || origin === "") return true;
  if (!host) return false;
  try {
    const u = new URL(origin);
    if (u.protocol !== "http:" && u.protocol !== "https:") return false;
    return u.host.toLowerCase() === host.toLowerCase();
  } catch {
    return false;
  }
}

/**
 * Constant-time string comparison: `!==` stops at the first differing byte, which lets a client
 * find a secret byte by byte from response times. Hashing first makes both sides one length, so
 * neither the comparison nor an early length check tells anything.
 */
export function sameSecret(a: string, b: string): boolean {
  const x = createHash("sha256").update(a).digest();
  const y = createHash("sha256").update(b).digest();
  return timingSafeEqual(x, y) && a.length === b.length;
}

/** The CSRF rule for a cookie-authenticated mutation, separate so it is unit-tested on its own. */
export function csrfOk(
  session: Pick<SessionRecord, "csrf">,
  h: { csrf?: string | null; origin?: string | null; host?: string | null; secFetchSite?: string | null },
): boolean {
  if (!h.csrf || !sameSecret(h.csrf, session.csrf)) return false;
  if (h.secFetchSite && h.secFetchSite !== "same-origin" && h.secFetchSite !== "none") return false;
  return checkOrigin(h.origin ?? undefined, h.host ?? undefined);
}

export async function authenticate(req: Request): Promise<Principal> {
  const r = await resolve({ cookie: req.headers.get("cookie"), authorization: req.headers.get("authorization") });
  if (!r) throw new AppError("unauthorized", "authentication required");
  if (r.session && !SAFE_METHODS.has(req.method.toUpperCase())) {
    const ok = csrfOk(r.session, {
      csrf: req.headers.get(CSRF_HEADER),
      origin: req.headers.get("origin"),
      host: req.headers.get("host"),
      secFetchSite: req.headers.get("sec-fetch-site"),
    });
    if (!ok) throw new AppError("forbidden", `CSRF check failed: send the ${CSRF_HEADER} header from the dashboard's own origin`);
  }
  return r.principal;
}

/** The session behind a request (for logout and password change), or null. */
export function sessionIdOf(req: Request): string | undefined {
  return parseCookies(req.headers.get("cookie"))[SESSION_COOKIE];
}

export function clientAddress(req: Request): string {
  return req.headers.get(REMOTE_ADDR_HEADER) ?? "unknown";
}

export type LoginResult =
  | { ok: true; id: string; csrf: string; expiresAt: number; /** The device cookie's value to (re)send. */ device: string }
  | { ok: false; reason: "rate_limited"; retryAfterMs: number }
  | { ok: false; reason: "bad_password" };

/**
 * Check the admin password under the failure limit, and open a session. Failures count against the
 * browser's device cookie when it shows a valid one, else against the client address (device.ts:
 * all clients share one docker-proxy address, so an address-only count let anyone lock the admin out).
 */
export async function login(password: string, address: string, deviceValue?: string): Promise<LoginResult> {
  const limiter = loginLimiter();
  const device = await verifyDevice(deviceValue, "admin");
  const key = device ? `device:${device}` : `address:${address}`;
  const wait = limiter.retryAfter(key);
  if (wait > 0) return { ok: false, reason: "rate_limited", retryAfterMs: wait };
  if (!(await checkPassword(password))) {
    limiter.fail(key);
    return { ok: false, reason: "bad_password" };
  }
  limiter.reset(key);
  const s = await createSession("admin");
  return { ok: true, ...s, device: device && deviceValue ? deviceValue : await issueDevice("admin") };
}

/** The device cookie a login request shows, if any. */
export function deviceOf(req: Request): string | undefined {
  return parseCookies(req.headers.get("cookie"))[DEVICE_COOKIE];
}

/** Set-Cookie for the device a successful login proved or was given. */
export function deviceSetCookie(req: Request, value: string): string {
  return deviceCookie(value, isSecure(req));
}

function isSecure(req: Request): boolean {
  return new URL(req.url).protocol === "https:" || req.headers.get("x-forwarded-proto") === "https";
}

/** Set-Cookie values for a new session: the id (httpOnly) and the CSRF token (readable by the UI). */
export function sessionCookies(req: Request, s: { id: string; csrf: string; expiresAt: number }): string[] {
  const secure = isSecure(req) ? "; Secure" : "";
  const maxAge = Math.max(0, Math.floor((s.expiresAt - Date.now()) / 1000));
  return [
    `${SESSION_COOKIE}=${s.id}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure}`,
    `${CSRF_COOKIE}=${s.csrf}; Path=/; SameSite=Strict; Max-Age=${maxAge}${secure}`,
  ];
}

export function clearCookies(): string[] {
  return [
    `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0`,
    `${CSRF_COOKIE}=; Path=/; SameSite=Strict; Max-Age=0`,
  ];
}

export { ensureAdmin, changePassword, createToken, listTokens, revokeToken, deleteSession } from "./store";
