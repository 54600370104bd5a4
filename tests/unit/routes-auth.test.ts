import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NextRequest } from "next/server";
import { ROUTE_MARK } from "../../edge/http/edge";
import { config as proxyConfig, proxy } from "../../proxy";

/**
 * Inventory of every API route and page, read from the filesystem, so a new one cannot forget
 * auth: each exported handler must come from route() and not be public (except the allowlist),
 * must answer 401 to a request with no credentials, and the proxy must refuse it too.
 */
const ROOT = path.resolve(__dirname, "../..");
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"] as const;

/** Public on purpose: the login itself and the bare health probe. */
const PUBLIC_ROUTES = new Set(["app/api/v1/auth/login/route.ts:POST", "app/api/v1/health/route.ts:GET"]);
/** Handlers that are not made by route() but authenticate themselves (checked by behaviour below). */
const SELF_AUTHENTICATING = new Set(["app/adminer/route.ts"]);
const PUBLIC_PAGES = new Set(["app/login/page.tsx"]);

function walk(dir: string, name: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, name));
    else if (e.name === name) out.push(path.relative(ROOT, p));
  }
  return out.sort();
}

/** app/(main)/instances/[name]/page.tsx → /instances/sample */
function urlOf(file: string): string {
  const segs = path.dirname(file).split(path.sep).slice(1)
    .filter((s) => !(s.startsWith("(") && s.endsWith(")")))
    .map((s) => (s.startsWith("[") ? (s.includes("name") ? "sample" : s.includes("action") ? "start" : "x1") : s));
  return `/${segs.join("/")}`;
}

const routes = walk(path.join(ROOT, "app"), "route.ts");
const pages = walk(path.join(ROOT, "app"), "page.tsx");
let home: string;
const savedHome = process.env.MDIND_HOME;

beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-routes-"));
  process.env.MDIND_HOME = home;
});
afterAll(() => {
  process.env.MDIND_HOME = savedHome;
  fs.rmSync(home, { recursive: true, force: true });
});

describe("route inventory", () => {
  it("finds the API and the pages", () => {
    expect(routes).toContain("app/api/v1/instances/route.ts");
    expect(routes.length).toBeGreaterThan(20);
    expect(pages).toContain("app/login/page.tsx");
    expect(pages.length).toBeGreaterThan(5);
  });

  it.each(routes)("%s: every handler is wrapped by route() and refuses no credentials", async (file) => {
    const mod = (await import(path.join(ROOT, file))) as Record<string, unknown>;
    const handlers = METHODS.filter((m) => typeof mod[m] === "function");
    expect(handlers.length).toBeGreaterThan(0);
    for (const m of handlers) {
      const fn = mod[m] as ((req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>) & { [ROUTE_MARK]?: { public: boolean } };
      const key = `${file}:${m}`;
      if (!SELF_AUTHENTICATING.has(file)) {
        expect(fn[ROUTE_MARK], `${key} must be made by route()`).toBeDefined();
        expect(fn[ROUTE_MARK]!.public, `${key} is public but not allowlisted`).toBe(PUBLIC_ROUTES.has(key));
      }
      if (PUBLIC_ROUTES.has(key)) continue;
      const url = `http://127.0.0.1:7800${urlOf(file).replace(/\/route\.ts$/, "")}`;
      const res = await fn(new Request(url, { method: m, headers: { host: "127.0.0.1:7800" } }), {
        params: Promise.resolve({ name: "sample", action: "start", dir: "php-8.2", file: "php.ini", id: "x1", index: "0", instance: "sample", opId: "x1" }),
      });
      expect([401, 403], `${key} answered ${res.status} without credentials`).toContain(res.status);
    }
  });

  it("the proxy runs on every route but the two streaming uploads (their handlers authenticate, above)", () => {
    const matcher = new RegExp(`^${proxyConfig.matcher[0]}$`);
    const skipped = routes.map(urlOf).filter((u) => !matcher.test(u));
    expect(skipped.sort()).toEqual(["/api/v1/import", "/api/v1/moodle/upload"]);
    for (const p of pages.map(urlOf)) expect(matcher.test(p), p).toBe(true);
  });

  it.each(routes)("%s: the proxy refuses it without credentials", async (file) => {
    const url = urlOf(file);
    if ([...PUBLIC_ROUTES].some((k) => k.startsWith(`${file}:`))) return;
    const res = await proxy(new NextRequest(`http://127.0.0.1:7800${url}`));
    if (url.startsWith("/api/")) expect(res.status).toBe(401);
    else expect([401, 307, 308]).toContain(res.status);
  });

  it.each(pages)("%s: the proxy sends a visitor without a session to /login", async (file) => {
    const res = await proxy(new NextRequest(`http://127.0.0.1:7800${urlOf(file)}`));
    if (PUBLIC_PAGES.has(file)) {
      expect(res.headers.get("location")).toBeNull();
      return;
    }
    expect(res.status).toBe(307);
    expect(new URL(res.headers.get("location")!).pathname).toBe("/login");
  });

  it("the health probe says only {ok} without credentials", async () => {
    const { GET } = (await import(path.join(ROOT, "app/api/v1/health/route.ts"))) as { GET: (r: Request, c: unknown) => Promise<Response> };
    const res = await GET(new Request("http://127.0.0.1:7800/api/v1/health"), { params: Promise.resolve({}) });
    expect(await res.json()).toEqual({ ok: true });
  });
});
