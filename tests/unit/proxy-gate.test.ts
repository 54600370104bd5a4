import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NextRequest } from "next/server";
import { proxy } from "../../proxy";
import { createSession } from "../../services/auth/store";

/** What the proxy adds besides the auth gate: the pages' CSP with a per-request nonce, and 400 for undecodable paths. */
let home: string;
let cookie = "";
const saved = { ...process.env };

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-proxy-"));
  process.env.MDIND_HOME = home;
  cookie = `mdind_session=${(await createSession("admin")).id}`;
});
afterAll(() => {
  process.env = { ...saved };
  fs.rmSync(home, { recursive: true, force: true });
});

const get = (p: string, withSession = true) =>
  proxy(new NextRequest(`http://127.0.0.1:7800${p}`, { headers: withSession ? { cookie } : {} }));

describe("proxy: Content-Security-Policy", () => {
  it("gives pages a policy with a fresh nonce, also handed to Next on the request", async () => {
    const a = await get("/");
    const csp = a.headers.get("content-security-policy")!;
    const nonce = /'nonce-([A-Za-z0-9+/=]+)'/.exec(csp)?.[1];
    expect(nonce).toBeTruthy();
    expect(csp).toMatch(/script-src 'self' 'nonce-[^']+' 'strict-dynamic'/);
    expect(csp).not.toMatch(/script-src[^;]*'unsafe-inline'/);
    for (const d of ["default-src 'self'", "object-src 'none'", "base-uri 'self'", "frame-ancestors 'self'", "form-action 'self'"]) expect(csp).toContain(d);
    expect(a.headers.get("x-middleware-request-x-nonce")).toBe(nonce);
    expect(a.headers.get("x-middleware-request-content-security-policy")).toBe(csp);
    const b = await get("/instances");
    expect(b.headers.get("content-security-policy")).not.toContain(nonce!);
    // The login page is public and gets one too.
    expect((await get("/login", false)).headers.get("content-security-policy")).toMatch(/'nonce-/);
  });

  it("leaves API answers and Adminer's pages (which set their own) alone", async () => {
    expect((await get("/api/v1/instances")).headers.get("content-security-policy")).toBeNull();
    expect((await get("/adminer?file=default.css")).headers.get("content-security-policy")).toBeNull();
  });
});

describe("proxy: undecodable paths", () => {
  it("answers a malformed percent-escape with 400, before Next's own decoding turns it into a 500", async () => {
    for (const p of ["/api/v1/instances/%E0%A4%A/config", "/instances/%E0%A4%A"]) {
      const res = await get(p);
      expect(res.status, p).toBe(400);
    }
    expect((await get("/api/v1/instances/%E0%A4%A/config", false)).status).toBe(400);
    expect((await get("/api/v1/instances/caf%C3%A9")).status).toBe(200);
  });
});
