import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import WebSocket from "ws";
import { afterAll, describe, expect, inject, it } from "vitest";
import { docker, dockerExec, login, request, ROOT, summary } from "./helpers";

/**
 * Scenario 7: auth and security against the running dashboard. The route list is read from the
 * code (app/**\/route.ts, page.tsx, the upgrade paths in server.ts), so a new route cannot forget
 * auth. Then sessions expire, tokens are revoked, login is rate-limited, secrets stay out of logs
 * and API answers, secret files are 0600, dockerd is on no TCP port, and instances reach neither
 * the dashboard nor each other except through the shared network once connected (probed from
 * inside the instances' own containers, towards the product's own container addresses only).
 */
const rel = inject("rel");
const figures: string[] = [];
const METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"];
const PUBLIC = new Set(["app/api/v1/auth/login/route.ts POST", "app/api/v1/health/route.ts GET"]);

function walk(dir: string, name: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, name));
    else if (e.name === name) out.push(path.relative(ROOT, p));
  }
  return out.sort();
}

/** app/api/v1/instances/[name]/mail/[id]/route.ts → /api/v1/instances/rel-a/mail/x1 */
function urlOf(file: string): string {
  const segs = path.dirname(file).split(path.sep).slice(1)
    .filter((s) => !(s.startsWith("(") && s.endsWith(")")))
    .map((s) => (s === "[name]" || s === "[instance]" ? rel.shared[0] : s === "[action]" ? "restart" : s.startsWith("[") ? "x1" : s));
  return `/${segs.join("/")}`;
}

afterAll(async () => {
  process.env.MDIND_HOME = rel.home;
  const { setShared } = await import("../../networks/subnets");
  const all = rel.shared.flatMap((n) => ["web", "app", "db", "cron"].map((s) => `mdind-${n}-${s}`));
  await setShared(all, false).catch(() => undefined);
});

describe("auth and security", () => {
  it("every route, page and WebSocket listed from the code refuses an unauthenticated request", async () => {
    const routes = walk(path.join(ROOT, "app"), "route.ts");
    const pages = walk(path.join(ROOT, "app"), "page.tsx");
    const server = fs.readFileSync(path.join(ROOT, "server.ts"), "utf8");
    const upgrades = [...server.matchAll(/pathname === "([^"]+)"/g)].map((m) => m[1]);
    expect(routes.length).toBeGreaterThan(20);
    expect(upgrades).toContain("/api/v1/terminal");
    const bad: string[] = [];
    let checked = 0;
    for (const file of routes) {
      const src = fs.readFileSync(path.join(ROOT, file), "utf8");
      const methods = METHODS.filter((m) => new RegExp(`export (const|async function|function) ${m}\\b`).test(src));
      for (const m of methods) {
        checked++;
        const url = urlOf(file);
        for (const creds of [{}, { authorization: "Bearer mdind_deadbeef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA" }, { cookie: "mdind_session=forged" }]) {
          const r = await request(rel.base, m, url, m === "GET" ? undefined : {}, creds as Record<string, string>);
          if (PUBLIC.has(`${file} ${m}`)) {
            // Public on purpose: login grants nothing without the password, health says only {ok}.
            const leaks = file.includes("health") ? Object.keys(r.json ?? {}).some((k) => k !== "ok") : r.status < 400;
            if (leaks) bad.push(`${m} ${url} (public) → ${r.status} ${r.text.slice(0, 80)}`);
          } else if (url.startsWith("/api/")) {
            if (r.status !== 401) bad.push(`${m} ${url} → ${r.status}`);
          } else if (!(r.status === 401 || ((r.status === 307 || r.status === 302 || r.status === 303) && (r.headers.get("location") ?? "").includes("/login")))) {
            bad.push(`${m} ${url} → ${r.status}`);
          }
        }
      }
    }
    for (const file of pages) {
      const url = urlOf(file);
      if (url === "/login") continue;
      checked++;
      const r = await request(rel.base, "GET", url);
      const ok = r.status === 401 || ((r.status === 307 || r.status === 302 || r.status === 303) && (r.headers.get("location") ?? "").includes("/login"));
      if (!ok) bad.push(`page ${url} → ${r.status}`);
    }
    for (const up of upgrades) {
      checked++;
      const status = await new Promise<number | string>((resolve) => {
        const ws = new WebSocket(`${rel.base.replace("http", "ws")}${up}?instance=${rel.shared[0]}&service=app`, { handshakeTimeout: 30_000 });
        ws.on("unexpected-response", (_q, res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        ws.on("open", () => {
          ws.close();
          resolve("open");
        });
        ws.on("error", (e) => resolve(`error ${e.message}`));
      });
      if (status !== 401) bad.push(`upgrade ${up} → ${status}`);
    }
    // A session cookie alone cannot mutate: the CSRF header is required.
    const s = await login(rel.base, rel.password);
    const noCsrf = await request(rel.base, "POST", "/api/v1/auth/tokens", { name: "csrf-probe" }, { cookie: s.cookie });
    if (noCsrf.status !== 403) bad.push(`session mutation without CSRF header → ${noCsrf.status}`);
    const withCsrf = await request(rel.base, "GET", "/api/v1/instances", undefined, { cookie: s.cookie });
    if (withCsrf.status !== 200) bad.push(`session read → ${withCsrf.status}`);
    figures.push(`${routes.length} route files / ${checked} handlers, pages and upgrades refuse anonymous`);
    expect(bad).toEqual([]);
  });

  it("sessions expire, tokens can be revoked, login is rate-limited", async () => {
    const s = await login(rel.base, rel.password);
    expect((await request(rel.base, "GET", "/api/v1/instances", undefined, { cookie: s.cookie })).status).toBe(200);
    // Age every session past its expiry in the store, as time would.
    const file = path.join(rel.home, "state", "sessions.json");
    const data = JSON.parse(fs.readFileSync(file, "utf8")) as { sessions: { expiresAt: number }[] };
    for (const x of data.sessions) x.expiresAt = Date.now() - 1000;
    fs.writeFileSync(file, JSON.stringify(data));
    expect((await request(rel.base, "GET", "/api/v1/instances", undefined, { cookie: s.cookie })).status).toBe(401);

    const auth = { authorization: `Bearer ${rel.token}` };
    const t = await request(rel.base, "POST", "/api/v1/auth/tokens", { name: "revoke-me" }, auth);
    expect(t.status).toBe(201);
    const other = { authorization: `Bearer ${t.json.token}` };
    expect((await request(rel.base, "GET", "/api/v1/instances", undefined, other)).status).toBe(200);
    expect((await request(rel.base, "DELETE", `/api/v1/auth/tokens?id=${t.json.id}`, undefined, auth)).status).toBe(200);
    expect((await request(rel.base, "GET", "/api/v1/instances", undefined, other)).status).toBe(401);

    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await request(rel.base, "POST", "/api/v1/auth/login", { password: `wrong-${i}` })).status);
    const right = await request(rel.base, "POST", "/api/v1/auth/login", { password: rel.password });
    // The browser that logged in at the top shows its device cookie: the guesses above were not its own.
    const device = s.cookie.split("; ").find((c) => c.startsWith("mdind_device="));
    const trusted = await request(rel.base, "POST", "/api/v1/auth/login", { password: rel.password }, { cookie: device ?? "" });
    figures.push(`session expiry 401, revoked token 401, login ${statuses.filter((x) => x === 401).length}×401 then ${statuses.slice(5).join()}/${right.status} for the right password, ${trusted.status} with a device cookie`);
    expect(statuses.slice(0, 5)).toEqual([401, 401, 401, 401, 401]);
    expect(statuses[5]).toBe(429);
    expect(right.status).toBe(429);
    expect(device).toBeTruthy();
    expect(trusted.status).toBe(200);
  });

  it("secrets are in no log and no API answer but their own endpoint; their files are 0600", async () => {
    const auth = { authorization: `Bearer ${rel.token}` };
    // The token's secret part alone too (mdind_<id>_<secret>; the secret may itself contain "_").
    const secrets: string[] = [rel.password, rel.token, rel.token.slice("mdind_".length + 9)];
    for (const name of rel.shared) {
      const s = JSON.parse(fs.readFileSync(path.join(rel.home, "instances", name, "secrets.json"), "utf8")) as Record<string, string>;
      secrets.push(s.dbPassword, s.adminPassword);
      const mode = fs.statSync(path.join(rel.home, "instances", name, "secrets.json")).mode & 0o777;
      expect(mode.toString(8)).toBe("600");
      const own = await request(rel.base, "GET", `/api/v1/instances/${name}/secrets`, undefined, auth);
      expect(own.json.adminPassword).toBe(s.adminPassword);
      expect(own.text).not.toContain(s.dbPassword);
    }
    for (const f of ["auth.json", "sessions.json"]) {
      expect((fs.statSync(path.join(rel.home, "state", f)).mode & 0o777).toString(8)).toBe("600");
    }
    // Logs: every log-like file under the data folder, plus the server's own stdout.
    const logFiles: string[] = [rel.logFile];
    const scan = (dir: string) => {
      for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
          if (e.name === "code" || e.name === "db" || e.name === "moodledata" || e.name === "cache") continue;
          scan(p);
        } else if (/\.(log|ndjson|txt)$/.test(e.name) || p.includes(`${path.sep}logs${path.sep}`) || p.includes(`${path.sep}operations${path.sep}`)) {
          logFiles.push(p);
        }
      }
    };
    scan(rel.home);
    const inLogs: string[] = [];
    for (const f of logFiles) {
      let text = "";
      try {
        text = fs.readFileSync(f, "utf8");
      } catch {
        continue;
      }
      for (const s of secrets) if (s && text.includes(s)) inLogs.push(`${path.relative(rel.home, f)} has a secret`);
    }
    // Container logs too (what the logs API serves).
    for (const name of rel.shared) {
      for (const svc of ["app", "web", "db", "cron"]) {
        const r = await request(rel.base, "GET", `/api/v1/instances/${name}/logs?service=${svc}&tail=5000`, undefined, auth);
        for (const s of secrets) if (s && r.text.includes(s)) inLogs.push(`logs ${name}/${svc} has a secret`);
      }
    }
    const reads = ["/api/v1/instances", `/api/v1/instances/${rel.shared[0]}`, `/api/v1/instances/${rel.shared[0]}/config`, "/api/v1/operations",
      `/api/v1/operations?instance=${rel.shared[0]}`, "/api/v1/health", "/api/v1/meta", "/api/v1/host", "/api/v1/auth/tokens", "/api/v1/images",
      "/api/v1/openapi.json", "/api/v1/preload", "/api/v1/metrics", `/api/v1/instances/${rel.shared[0]}/mail`, `/api/v1/instances/${rel.shared[0]}/blueprint`];
    const opList = await request(rel.base, "GET", `/api/v1/operations?instance=${rel.shared[0]}`, undefined, auth);
    const ops = (JSON.stringify(opList.json).match(/[0-9a-z]{8,}-[0-9a-f]{8}/g) ?? []).slice(0, 5);
    for (const id of ops) reads.push(`/api/v1/operations/${rel.shared[0]}/${id}`);
    const inApi: string[] = [];
    for (const p of reads) {
      const r = await request(rel.base, "GET", p, undefined, auth);
      for (const s of secrets) if (s && r.text.includes(s)) inApi.push(`${p} has a secret`);
    }
    figures.push(`${secrets.length} secrets absent from ${logFiles.length} log files, 8 container logs and ${reads.length} API answers; secret files 0600`);
    for (const s of secrets) expect(s.length).toBeGreaterThanOrEqual(12);
    expect(inLogs).toEqual([]);
    expect(inApi).toEqual([]);
  });

  it("the Docker API is on no TCP port", async () => {
    const ss = spawnSync("ss", ["-ltnH"], { encoding: "utf8" });
    const ports = ss.stdout.split("\n").map((l) => l.trim().split(/\s+/)[3] ?? "").filter(Boolean);
    const dockerPorts = ports.filter((a) => /:(2375|2376)$/.test(a));
    const pids = spawnSync("pgrep", ["-x", "dockerd"], { encoding: "utf8" }).stdout.split("\n").filter(Boolean);
    const tcpFlags = pids.filter((p) => {
      const cmd = fs.readFileSync(`/proc/${p}/cmdline`, "utf8").split("\0").join(" ");
      return /tcp:\/\//.test(cmd);
    });
    let daemonJson = "";
    try {
      daemonJson = fs.readFileSync("/etc/docker/daemon.json", "utf8");
    } catch {
      daemonJson = "";
    }
    figures.push(`dockerd: ${dockerPorts.length} TCP listeners on 2375/2376, ${tcpFlags.length} tcp:// flags (${pids.length} dockerd)`);
    expect(ss.status).toBe(0);
    expect(dockerPorts).toEqual([]);
    expect(tcpFlags).toEqual([]);
    expect(daemonJson).not.toMatch(/tcp:\/\//);
  });

  it("instances reach neither the dashboard nor each other, except through the shared network", async () => {
    const [a, b] = rel.shared;
    const infoOf = async (n: string) => (await request(rel.base, "GET", `/api/v1/instances/${n}`, undefined, { authorization: `Bearer ${rel.token}` })).json as { n: number; port: number };
    // The web server listens inside on the instance's own port number (the one published on 127.0.0.1).
    const { n: na, port: pa } = await infoOf(a);
    const { n: nb, port: pb } = await infoOf(b);
    const dashPort = Number(new URL(rel.base).port);
    const probe = (from: string, ip: string, port: number) => {
      const code = `$s=@fsockopen("${ip}", ${port}, $e, $m, 3); echo $s ? "open" : "closed";`;
      return dockerExec(`mdind-${from}-app`, ["php", "-r", code]).out.trim();
    };
    // Sanity: the probe itself works, inside A's own network.
    expect(probe(a, `172.20.${na}.10`, pa)).toBe("open");
    expect(probe(a, `172.20.${na}.12`, 5432)).toBe("open");
    const isolated = [
      probe(a, `172.20.${nb}.10`, pb), probe(a, `172.20.${nb}.11`, 9000), probe(a, `172.20.${nb}.12`, 5432),
      probe(b, `172.20.${na}.10`, pa), probe(b, `172.20.${na}.12`, 5432),
      probe(a, `172.20.${na}.1`, dashPort), probe(b, `172.20.${nb}.1`, dashPort),
    ];
    process.env.MDIND_HOME = rel.home;
    const { setShared, SHARED_NETWORK } = await import("../../networks/subnets");
    await setShared([`mdind-${a}-app`, `mdind-${b}-web`], true);
    const ipOn = async (c: string) => (await docker.getContainer(c).inspect()).NetworkSettings.Networks[SHARED_NETWORK.name]?.IPAddress ?? "";
    const bWebShared = await ipOn(`mdind-${b}-web`);
    const viaShared = probe(a, bWebShared, pb);
    const dashViaShared = probe(a, SHARED_NETWORK.gateway, dashPort);
    await setShared([`mdind-${a}-app`, `mdind-${b}-web`], false);
    const afterDisconnect = probe(a, bWebShared, pb);
    figures.push(`isolation: ${isolated.filter((x) => x === "closed").length}/${isolated.length} cross-instance and dashboard probes closed, shared network open, closed again after disconnect`);
    expect(isolated).toEqual(isolated.map(() => "closed"));
    expect(viaShared).toBe("open");
    expect(dashViaShared).toBe("closed");
    expect(afterDisconnect).toBe("closed");
    summary(`security: ${figures.join("; ")}`);
  });
});
