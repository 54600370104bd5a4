import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { sessionTtlMs } from "../auth/store";
import type { TargetKey } from "./target";

/**
 * Which instance databases this browser may open in Adminer: each one-time login adds its target to
 * a signed cookie, and the proxy refuses any other target. The key lives only in this process
 * (globalThis, shared by the custom server's and Next's module graphs); after a restart the cookie
 * no longer verifies and the user opens the DB admin again from the dashboard, which is cheap.
 */
export const GRANT_COOKIE = "mdind_dbadmin";
const MAX_TARGETS = 32;
const KEY = Symbol.for("moodle-dind.dbadmin.grantKey");

function key(): Buffer {
  const g = globalThis as unknown as Record<symbol, Buffer | undefined>;
  return (g[KEY] ??= randomBytes(32));
}

const sign = (payload: string) => createHmac("sha256", key()).update(payload).digest("base64url");

/** The targets a grant cookie holds, or none when it is missing, forged or expired. */
export function readGrant(value: string | undefined, now = Date.now()): TargetKey[] {
  if (!value) return [];
  const [payload, mac] = value.split(".");
  if (!payload || !mac) return [];
  const want = Buffer.from(sign(payload));
  const got = Buffer.from(mac);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return [];
  try {
    const g = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as { t?: unknown; e?: unknown };
    if (typeof g.e !== "number" || g.e < now || !Array.isArray(g.t)) return [];
    return g.t.filter((t): t is string => typeof t === "string");
  } catch {
    return [];
  }
}

/** Set-Cookie for a grant holding `targets` plus `add` (newest kept when over the cap). */
export function grantCookie(targets: TargetKey[], add: TargetKey, secure: boolean, now = Date.now()): string {
  const t = [...targets.filter((x) => x !== add), add].slice(-MAX_TARGETS);
  const ttl = sessionTtlMs();
  const payload = Buffer.from(JSON.stringify({ t, e: now + ttl })).toString("base64url");
  const maxAge = Math.floor(ttl / 1000);
  return `${GRANT_COOKIE}=${payload}.${sign(payload)}; Path=/adminer; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? "; Secure" : ""}`;
}
