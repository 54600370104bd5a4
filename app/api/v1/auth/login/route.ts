import { route, jsonBody } from "@/edge/http/edge";
import { loginSchema } from "@/edge/http/schemas";
import { checkOrigin, clientAddress, deviceOf, deviceSetCookie, login, sessionCookies } from "@/services/auth";

/** Public by necessity: trades the admin password for a session (rate-limited per device cookie, else per address). */
export const POST = route(
  async ({ req }) => {
    // No logging in from another site's form: that would plant the attacker's session here.
    if (!checkOrigin(req.headers.get("origin") ?? undefined, req.headers.get("host") ?? undefined)) {
      return Response.json({ error: { kind: "forbidden", message: "cross-origin login refused" } }, { status: 403 });
    }
    const { password } = await jsonBody(req, loginSchema);
    const r = await login(password, clientAddress(req), deviceOf(req));
    if (!r.ok && r.reason === "rate_limited") {
      const secs = Math.ceil(r.retryAfterMs / 1000);
      return Response.json(
        { error: { kind: "rate_limited", message: `too many failed logins; try again in ${secs} s` } },
        { status: 429, headers: { "Retry-After": String(secs) } },
      );
    }
    if (!r.ok) return Response.json({ error: { kind: "unauthorized", message: "wrong password", field: "password" } }, { status: 401 });
    const headers = new Headers();
    for (const c of sessionCookies(req, r)) headers.append("Set-Cookie", c);
    headers.append("Set-Cookie", deviceSetCookie(req, r.device));
    return Response.json({ ok: true, csrf: r.csrf, expiresAt: new Date(r.expiresAt).toISOString() }, { headers });
  },
  { public: true },
);
