import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { createSession, deleteSession } from "../../services/auth/store";
import { closeTunnel, openTunnel, TUNNEL_PORT_MAX, TUNNEL_PORT_MIN, type TunnelInfo } from "../../services/cluster/dbtunnel";
import { proxyAdminer } from "../../services/dbadmin/adminer-proxy";
import { dbAdminOwner, ownerKey } from "../../services/dbadmin/owner";
import { queryTarget, tunnelPort } from "../../services/dbadmin/target";

/**
 * The /adminer proxy judges the database a request names before Adminer sees it (Adminer connects
 * first and checks afterwards, which made it a port scanner). A stand-in Adminer on 127.0.0.1
 * records what reaches it.
 */
let home: string;
let backend: http.Server;
let seen: { url: string; body: string }[] = [];
let session = "";
const saved = { ...process.env };
const BASE = "http://127.0.0.1:7800";
const TOKEN = "A".repeat(43);

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-adminer-"));
  process.env.MDIND_HOME = home;
  backend = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => (body += c.toString()));
    req.on("end", () => {
      seen.push({ url: req.url ?? "", body });
      const headers = { "x-powered-by": "PHP/8.4.0", host: "127.0.0.1:9100", server: "PHP 8.4 Development Server" };
      if ((req.url ?? "").includes("mdind_token")) {
        res.writeHead(302, { ...headers, location: "/adminer?pgsql=172.20.3.12&username=moodle&db=moodle", "set-cookie": "adminer_sid=s1; path=/adminer" });
        res.end();
        return;
      }
      res.writeHead(200, { ...headers, "content-type": "text/html" });
      res.end("adminer page");
    });
  });
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  process.env.MDIND_ADMINER_URL = `http://127.0.0.1:${(backend.address() as AddressInfo).port}`;
  session = (await createSession("admin")).id;
});

afterAll(async () => {
  process.env = { ...saved };
  await new Promise((r) => backend.close(r));
  fs.rmSync(home, { recursive: true, force: true });
});

beforeEach(() => {
  seen = [];
});

function call(query: string, init: { method?: string; body?: BodyInit; contentType?: string; cookie?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { host: "127.0.0.1:7800", cookie: [`mdind_session=${session}`, init.cookie].filter(Boolean).join("; ") };
  if (init.contentType) headers["content-type"] = init.contentType;
  return proxyAdminer(new Request(`${BASE}/adminer${query}`, { method: init.method ?? "GET", headers, body: init.body }));
}

function writeToken(server: string, driver = "pgsql", tunnel?: string): void {
  const dir = path.join(home, "state", "adminer");
  fs.mkdirSync(dir, { recursive: true });
  const expires = Math.floor(Date.now() / 1000) + 60;
  fs.writeFileSync(path.join(dir, `${TOKEN}.json`), JSON.stringify({ driver, server, username: "moodle", db: "moodle", password: "pw", instance: "a1", expires, tunnel }));
}

/** Log in through a one-time link as the browser would and return the grant cookie it got. */
async function grantFor(server: string, tunnel?: string): Promise<string> {
  writeToken(server, "pgsql", tunnel);
  const res = await call(`?mdind_token=${TOKEN}`);
  expect(res.status).toBe(302);
  const grant = res.headers.getSetCookie().find((c) => c.startsWith("mdind_dbadmin="));
  expect(grant).toMatch(/Path=\/adminer; HttpOnly; SameSite=Strict/);
  return grant!.split(";")[0];
}

describe("adminer proxy: which database a request may name", () => {
  it("refuses the port-scan login (POST with a server outside the instances) before Adminer runs", async () => {
    const body = new URLSearchParams({ "auth[driver]": "pgsql", "auth[server]": "127.0.0.1:7800", "auth[username]": "x", "auth[password]": "y" });
    const res = await call("?pgsql=127.0.0.1:7800", { method: "POST", body: body.toString(), contentType: "application/x-www-form-urlencoded" });
    expect(res.status).toBe(403);
    expect(seen).toEqual([]);
  });

  it.each([
    "?server=localhost&username=root",
    "?pgsql=127.0.0.1:7800&username=x",
    "?pgsql=172.20.3.12:7800&username=moodle",
    "?pgsql=172.20.300.12&username=moodle",
    "?pgsql=172.20.03.12&username=moodle",
    "?sqlite=/etc/passwd&username=",
    "?oracle=172.20.3.12&username=moodle",
    "?username=root",
    "?pgsql[]=172.20.3.12&username=moodle",
    "?%20pgsql=127.0.0.1&username=x",
    "?pgsql%00x=127.0.0.1&username=x",
    "?pgsql=172.20.3.12&server=127.0.0.1&username=x",
  ])("refuses %s", async (q) => {
    const res = await call(q);
    expect(res.status).toBe(403);
    expect(seen).toEqual([]);
  });

  it("refuses an instance database this browser was not granted", async () => {
    const res = await call("?pgsql=172.20.3.12&username=moodle&db=moodle");
    expect(res.status).toBe(403);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(/from the dashboard/);
    expect(seen).toEqual([]);
  });

  it("grants the one-time link's database, and only that one", async () => {
    const grant = await grantFor("172.20.3.12");
    expect(seen.map((s) => s.url)).toEqual([`/adminer?mdind_token=${TOKEN}`]);
    const ok = await call("?pgsql=172.20.3.12&username=moodle&db=moodle", { cookie: grant });
    expect(ok.status).toBe(200);
    expect(await ok.text()).toBe("adminer page");
    for (const q of ["?pgsql=172.20.4.12&username=moodle", "?server=172.20.3.12&username=moodle"]) {
      expect((await call(q, { cookie: grant })).status, q).toBe(403);
    }
    // A tampered grant is no grant.
    const [name, value] = grant.split("=");
    const forged = `${name}=${Buffer.from(JSON.stringify({ t: ["pgsql:172.20.4.12"], e: Date.now() + 1e6 })).toString("base64url")}.${value.split(".")[1]}`;
    expect((await call("?pgsql=172.20.4.12&username=moodle", { cookie: forged })).status).toBe(403);
    // Adminer's login form stays off even for a granted database.
    const form = new FormData();
    form.set("auth[server]", "127.0.0.1:7800");
    const multi = await call("?pgsql=172.20.3.12&username=moodle", { method: "POST", body: form, cookie: grant });
    expect(multi.status).toBe(403);
    const spaced = await call("?pgsql=172.20.3.12&username=moodle", {
      method: "POST", body: "%20auth%5Bserver%5D=127.0.0.1", contentType: "application/x-www-form-urlencoded", cookie: grant,
    });
    expect(spaced.status).toBe(403);
    // Ordinary Adminer posts (a query, with its CSRF token) pass.
    const sql = await call("?pgsql=172.20.3.12&username=moodle&sql=", {
      method: "POST", body: "query=select+1&token=1", contentType: "application/x-www-form-urlencoded", cookie: grant,
    });
    expect(sql.status).toBe(200);
  });

  it("sends a one-time link to Adminer with nothing else in its query", async () => {
    writeToken("172.20.3.12");
    const res = await call(`?mdind_token=${TOKEN}&pgsql=127.0.0.1:7800`);
    expect(res.status).toBe(400);
    expect(seen).toEqual([]);
  });

  it("grants nothing for a token naming no instance database", async () => {
    writeToken("127.0.0.1:7800");
    const res = await call(`?mdind_token=${TOKEN}`);
    expect(res.headers.getSetCookie().some((c) => c.startsWith("mdind_dbadmin="))).toBe(false);
  });

  it("strips x-powered-by, server and any internal host header from Adminer's answers", async () => {
    const res = await call("?file=default.css");
    expect(res.status).toBe(200);
    expect(res.headers.get("x-powered-by")).toBeNull();
    expect(res.headers.get("host")).toBeNull();
    expect(res.headers.get("server")).toBeNull();
    expect(res.headers.get("cache-control")).toBe("no-store");
  });
});

describe("queryTarget", () => {
  it("reads no target from Adminer's static files and one from a database page", () => {
    expect(queryTarget(new URLSearchParams("file=functions.js&version=5"))).toEqual({ ok: true, target: null });
    expect(queryTarget(new URLSearchParams("server=172.20.9.12&username=moodle"))).toEqual({ ok: true, target: "server:172.20.9.12" });
  });
});

/**
 * A cluster instance's database is named by its tunnel's 127.0.0.1 port (services/cluster/dbtunnel.ts).
 * Such a target must be exactly a live tunnel this browser's own login was granted, and the tunnel
 * must be this session's: every other 127.0.0.1 address, and every other spelling, stays refused.
 */
describe("adminer proxy: a cluster instance's database through its tunnel", () => {
  const tunnels: number[] = [];
  const owner = () => ownerKey({ user: "admin", via: "session" }, session);
  async function tunnel(by = owner()): Promise<TunnelInfo> {
    const t = await openTunnel(() => Promise.reject(new Error("no engine in unit tests")), { instance: "cl1", owner: by, until: Date.now() + 600_000 });
    tunnels.push(t.port);
    return t;
  }
  const at = (t: TunnelInfo) => `127.0.0.1:${t.port}`;
  const grants = (res: Response) => res.headers.getSetCookie().some((c) => c.startsWith("mdind_dbadmin="));

  afterAll(async () => {
    for (const p of tunnels) await closeTunnel(p);
  });

  it("grants the tunnel its own login names, and then only that tunnel", async () => {
    const t = await tunnel();
    const grant = await grantFor(at(t), t.id);
    expect((await call(`?pgsql=${at(t)}&username=moodle&db=moodle`, { cookie: grant })).status).toBe(200);
    // Same address, other driver: not what was granted.
    expect((await call(`?server=${at(t)}&username=moodle`, { cookie: grant })).status).toBe(403);
    // Another live tunnel of the same session, never granted to this browser.
    const other = await tunnel();
    seen = [];
    expect((await call(`?pgsql=${at(other)}&username=moodle`, { cookie: grant })).status).toBe(403);
    // The grant cookie carried to another dashboard session does not open this session's tunnel.
    const stranger = (await createSession("admin")).id;
    const req = new Request(`${BASE}/adminer?pgsql=${at(t)}&username=moodle`, { headers: { host: "127.0.0.1:7800", cookie: `mdind_session=${stranger}; ${grant}` } });
    expect((await proxyAdminer(req)).status).toBe(403);
    expect(seen).toEqual([]);
  });

  it("refuses every other loopback address and spelling, granted or not", async () => {
    const t = await tunnel();
    const grant = await grantFor(at(t), t.id);
    const free = Array.from({ length: TUNNEL_PORT_MAX - TUNNEL_PORT_MIN + 1 }, (_, i) => TUNNEL_PORT_MIN + i).find((p) => !tunnels.includes(p));
    seen = [];
    for (const server of [
      "127.0.0.1:7800", "127.0.0.1:9100", "127.0.0.1:5432", `127.0.0.1:${TUNNEL_PORT_MIN - 1}`, `127.0.0.1:${TUNNEL_PORT_MAX + 1}`,
      `127.0.0.1:${free}`, `localhost:${t.port}`, "localhost", "127.0.0.1", `127.0.0.1:0${t.port}`, `127.000.000.001:${t.port}`,
      `127.1:${t.port}`, `[::1]:${t.port}`, `0.0.0.0:${t.port}`, `127.0.0.2:${t.port}`, `127.0.0.1:${t.port} `, `127.0.0.1:${t.port}/x`,
      `127.0.0.1:${t.port}#${t.id}`, `127.0.0.1:${t.port}:5432`, `172.20.3.12:${t.port}`,
    ]) {
      const res = await call(`?pgsql=${encodeURIComponent(server)}&username=moodle`, { cookie: grant });
      expect(res.status, server).toBe(403);
    }
    expect(seen).toEqual([]);
  });

  it("grants nothing for a login naming a tunnel without its id, with another's, or of another session", async () => {
    const t = await tunnel();
    const theirs = await tunnel("session:someone-else");
    for (const [server, id] of [[at(t), undefined], [at(t), "x".repeat(22)], [at(t), theirs.id], [at(theirs), theirs.id], [`127.0.0.1:${t.port + 100}`, t.id]] as const) {
      writeToken(server, "pgsql", id);
      expect(grants(await call(`?mdind_token=${TOKEN}`)), `${server} ${id}`).toBe(false);
    }
    // Nor does this session's grant open another session's tunnel.
    const grant = await grantFor(at(t), t.id);
    expect((await call(`?pgsql=${at(theirs)}&username=moodle`, { cookie: grant })).status).toBe(403);
  });

  it("a grant ends with its tunnel: refused once closed, and for a later tunnel on the same port", async () => {
    const t = await tunnel();
    const grant = await grantFor(at(t), t.id);
    await closeTunnel(t.port);
    expect((await call(`?pgsql=${at(t)}&username=moodle`, { cookie: grant })).status).toBe(403);
    const again = await tunnel();
    expect(again.port).toBe(t.port);
    expect(again.id).not.toBe(t.id);
    expect((await call(`?pgsql=${at(again)}&username=moodle`, { cookie: grant })).status).toBe(403);
    const fresh = await grantFor(at(again), again.id);
    expect((await call(`?pgsql=${at(again)}&username=moodle`, { cookie: fresh })).status).toBe(200);
  });

  it("an API token's tunnel is not a browser session's", async () => {
    const t = await tunnel(ownerKey({ user: "admin", via: "token", tokenId: "t1" }, undefined));
    writeToken(at(t), "pgsql", t.id);
    expect(grants(await call(`?mdind_token=${TOKEN}`))).toBe(false);
  });

  it("reads a tunnel address only as the dashboard writes it", () => {
    expect(tunnelPort(`127.0.0.1:${TUNNEL_PORT_MIN}`)).toBe(TUNNEL_PORT_MIN);
    for (const s of ["127.0.0.1", `127.0.0.1:0${TUNNEL_PORT_MIN}`, `localhost:${TUNNEL_PORT_MIN}`, "127.0.0.1:99999", `127.0.0.1:${TUNNEL_PORT_MIN}\n`]) expect(tunnelPort(s), s).toBeNull();
    expect(queryTarget(new URLSearchParams(`pgsql=127.0.0.1:${TUNNEL_PORT_MIN}&username=moodle`))).toEqual({ ok: true, target: `pgsql:127.0.0.1:${TUNNEL_PORT_MIN}` });
    expect(queryTarget(new URLSearchParams("pgsql=127.0.0.1:7800&username=moodle")).ok).toBe(false);
  });

  it("a tunnel's owner: its session until that session ends, or an API token", async () => {
    const s = await createSession("admin");
    const o = dbAdminOwner({ user: "admin", via: "session" }, s.id);
    expect(o.key).toBe(ownerKey({ user: "admin", via: "session" }, s.id));
    expect(o.key).not.toContain(s.id);
    expect(o.until).toBe(s.expiresAt);
    expect(o.alive()).toBe(true);
    await deleteSession(s.id);
    expect(o.alive()).toBe(false);
    expect(dbAdminOwner({ user: "admin", via: "token", tokenId: "t9" }, undefined).key).toBe("token:t9");
  });

  it("Adminer's wrapper allows the same tunnel range, matched to the end of the string", () => {
    const php = fs.readFileSync(path.resolve(import.meta.dirname, "../../dind/host/adminer/index.php"), "utf8");
    expect(php).toContain(`const MDIND_TUNNEL_MIN = ${TUNNEL_PORT_MIN};`);
    expect(php).toContain(`const MDIND_TUNNEL_MAX = ${TUNNEL_PORT_MAX};`);
    expect(php).toMatch(/const MDIND_TUNNEL_RE = '.*\$\/D';/);
  });
});
