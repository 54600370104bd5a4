import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { generatePassword, hashPassword, verifyPassword } from "../../services/auth/password";
import { createRateLimiter } from "../../services/auth/ratelimit";
import {
  changePassword, checkPassword, createSession, createToken, deleteSession, ensureAdmin, getSession, listTokens,
  revokeToken, verifyToken,
} from "../../services/auth/store";
import { authenticate, authenticateHeaders, checkOrigin, csrfOk, login, SESSION_COOKIE } from "../../services/auth";
import { AppError } from "../../lib/errors";

let home: string;
const saved = { ...process.env };

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-auth-"));
  process.env.MDIND_HOME = home;
  delete process.env.MDIND_ADMIN_PASSWORD;
  delete process.env.MDIND_SESSION_TTL_HOURS;
});

afterEach(() => {
  process.env = { ...saved };
  fs.rmSync(home, { recursive: true, force: true });
});

async function kindOf(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (e) {
    return e instanceof AppError ? e.kind : "other";
  }
}

describe("password hashing", () => {
  it("verifies the right password only, with a fresh salt each time", async () => {
    const h1 = await hashPassword("correct horse");
    const h2 = await hashPassword("correct horse");
    expect(h1).not.toBe(h2);
    expect(h1.startsWith("scrypt$")).toBe(true);
    expect(await verifyPassword("correct horse", h1)).toBe(true);
    expect(await verifyPassword("correct horsE", h1)).toBe(false);
    expect(await verifyPassword("x", "scrypt$bad")).toBe(false);
    expect(await verifyPassword("x", "md5$1$2$3$4$5")).toBe(false);
  });

  it("generates long passwords from an unambiguous alphabet", () => {
    const p = generatePassword();
    expect(p).toMatch(/^[a-km-zA-HJ-NP-Z2-9]{20}$/);
    expect(generatePassword()).not.toBe(p);
  });
});

describe("admin password", () => {
  it("is generated once, stored hashed in a 0600 file, and never stored in clear", async () => {
    const first = await ensureAdmin();
    expect(first.generatedPassword).toBeTruthy();
    const second = await ensureAdmin();
    expect(second.generatedPassword).toBeUndefined();
    const file = path.join(home, "state", "auth.json");
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, "utf8")).not.toContain(first.generatedPassword!);
    expect(await checkPassword(first.generatedPassword!)).toBe(true);
    expect(await checkPassword("nope")).toBe(false);
  });

  it("follows MDIND_ADMIN_PASSWORD and refuses a change through the API", async () => {
    process.env.MDIND_ADMIN_PASSWORD = "from-the-environment";
    expect((await ensureAdmin()).generatedPassword).toBeUndefined();
    expect(await checkPassword("from-the-environment")).toBe(true);
    expect(await kindOf(changePassword("from-the-environment", "something-new-1"))).toBe("conflict");
  });

  it("changes: the old password stops working and other sessions end", async () => {
    const { generatedPassword: pw } = await ensureAdmin();
    const mine = await createSession();
    const other = await createSession();
    expect(await kindOf(changePassword("wrong", "a-new-password"))).toBe("validation");
    expect(await kindOf(changePassword(pw!, "short"))).toBe("validation");
    await changePassword(pw!, "a-new-password", mine.id);
    expect(await checkPassword(pw!)).toBe(false);
    expect(await checkPassword("a-new-password")).toBe(true);
    expect(getSession(mine.id)).not.toBeNull();
    expect(getSession(other.id)).toBeNull();
  });
});

describe("sessions", () => {
  it("expire after MDIND_SESSION_TTL_HOURS and are stored hashed", async () => {
    process.env.MDIND_SESSION_TTL_HOURS = "1";
    const now = Date.now();
    const s = await createSession("admin", now);
    expect(getSession(s.id, now + 59 * 60_000)?.csrf).toBe(s.csrf);
    expect(getSession(s.id, now + 61 * 60_000)).toBeNull();
    expect(fs.readFileSync(path.join(home, "state", "sessions.json"), "utf8")).not.toContain(s.id);
    expect(getSession("made-up")).toBeNull();
  });

  it("end at logout", async () => {
    const s = await createSession();
    await deleteSession(s.id);
    expect(getSession(s.id)).toBeNull();
  });
});

describe("API tokens", () => {
  it("are shown once, listed without secrets, and stop working when revoked", async () => {
    const t = await createToken("laptop");
    expect(t.token).toMatch(/^mdind_[a-f0-9]{8}_[A-Za-z0-9_-]{43}$/);
    expect((await verifyToken(t.token))?.id).toBe(t.id);
    const list = await listTokens();
    expect(list).toEqual([{ id: t.id, name: "laptop", createdAt: t.createdAt }]);
    // The secret is everything after the id: base64url, so it may hold "_" itself (split("_")[2]
    // then took a 2-character piece of it, which a hash can contain by chance: a flaky failure).
    const secret = /^mdind_[a-f0-9]{8}_(.+)$/.exec(t.token)![1];
    expect(fs.readFileSync(path.join(home, "state", "auth.json"), "utf8")).not.toContain(secret);
    expect(await kindOf(createToken("laptop"))).toBe("conflict");
    expect(await kindOf(createToken("bad/name"))).toBe("validation");
    expect(await verifyToken(`${t.token.slice(0, -1)}x`)).toBeNull();
    await revokeToken(t.id);
    expect(await verifyToken(t.token)).toBeNull();
    expect(await kindOf(revokeToken(t.id))).toBe("not_found");
  });
});

describe("login rate limit", () => {
  it("allows 5 failures per minute per key, then says how long to wait", () => {
    const rl = createRateLimiter(5, 60_000);
    const t0 = 1_000_000;
    for (let i = 0; i < 4; i++) rl.fail("1.2.3.4", t0 + i);
    expect(rl.retryAfter("1.2.3.4", t0 + 10)).toBe(0);
    rl.fail("1.2.3.4", t0 + 10);
    expect(rl.retryAfter("1.2.3.4", t0 + 20)).toBeGreaterThan(59_000);
    expect(rl.retryAfter("5.6.7.8", t0 + 20)).toBe(0);
    expect(rl.retryAfter("1.2.3.4", t0 + 60_001)).toBe(0);
    rl.fail("9.9.9.9", t0);
    rl.reset("9.9.9.9");
    expect(rl.retryAfter("9.9.9.9", t0)).toBe(0);
  });

  it("refuses even the right password after 5 failures from one address", async () => {
    process.env.MDIND_ADMIN_PASSWORD = "right-password";
    const addr = `10.0.0.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i < 5; i++) expect((await login("wrong", addr)).ok).toBe(false);
    const r = await login("right-password", addr);
    expect(r).toMatchObject({ ok: false, reason: "rate_limited" });
    expect((await login("right-password", "10.9.9.9")).ok).toBe(true);
  });
});

describe("origin and CSRF checks", () => {
  it("checkOrigin accepts only the request's own host", () => {
    expect(checkOrigin(undefined, "127.0.0.1:7800")).toBe(true);
    expect(checkOrigin("http://127.0.0.1:7800", "127.0.0.1:7800")).toBe(true);
    expect(checkOrigin("http://127.0.0.1:7801", "127.0.0.1:7800")).toBe(false);
    expect(checkOrigin("https://evil.example", "127.0.0.1:7800")).toBe(false);
    expect(checkOrigin("null", "127.0.0.1:7800")).toBe(false);
    expect(checkOrigin("file://x", "127.0.0.1:7800")).toBe(false);
    expect(checkOrigin("http://127.0.0.1:7800", undefined)).toBe(false);
  });

  it("csrfOk needs the session's token and a same-origin browser context", () => {
    const s = { csrf: "abc123" };
    expect(csrfOk(s, { csrf: "abc123", host: "h:1" })).toBe(true);
    expect(csrfOk(s, { csrf: null, host: "h:1" })).toBe(false);
    expect(csrfOk(s, { csrf: "abc124", host: "h:1" })).toBe(false);
    expect(csrfOk(s, { csrf: "abc123", host: "h:1", origin: "http://other:1" })).toBe(false);
    expect(csrfOk(s, { csrf: "abc123", host: "h:1", secFetchSite: "cross-site" })).toBe(false);
    expect(csrfOk(s, { csrf: "abc123", host: "h:1", origin: "http://h:1", secFetchSite: "same-origin" })).toBe(true);
  });

  it("authenticate: cookie mutations need the CSRF header, bearer tokens do not", async () => {
    const s = await createSession();
    const t = await createToken("ci");
    const cookie = `${SESSION_COOKIE}=${s.id}`;
    const req = (method: string, headers: Record<string, string>) =>
      new Request("http://127.0.0.1:7800/api/v1/instances", { method, headers: { host: "127.0.0.1:7800", ...headers } });

    expect((await authenticate(req("GET", { cookie }))).via).toBe("session");
    expect(await kindOf(authenticate(req("POST", { cookie })))).toBe("forbidden");
    expect(await kindOf(authenticate(req("POST", { cookie, "x-mdind-csrf": "wrong" })))).toBe("forbidden");
    expect(await kindOf(authenticate(req("POST", { cookie, "x-mdind-csrf": s.csrf, origin: "http://evil.example" })))).toBe("forbidden");
    expect((await authenticate(req("POST", { cookie, "x-mdind-csrf": s.csrf, origin: "http://127.0.0.1:7800" }))).via).toBe("session");
    expect((await authenticate(req("DELETE", { authorization: `Bearer ${t.token}` }))).via).toBe("token");
    // A bad token is not rescued by a valid cookie riding along.
    expect(await kindOf(authenticate(req("GET", { cookie, authorization: "Bearer mdind_00000000_nope" })))).toBe("unauthorized");
    expect(await kindOf(authenticate(req("GET", {})))).toBe("unauthorized");
    expect(await authenticateHeaders({ cookie })).toMatchObject({ via: "session" });
    expect(await authenticateHeaders({ cookie: `${SESSION_COOKIE}=forged` })).toBeNull();
    await revokeToken(t.id);
    expect(await kindOf(authenticate(req("GET", { authorization: `Bearer ${t.token}` })))).toBe("unauthorized");
  });
});
