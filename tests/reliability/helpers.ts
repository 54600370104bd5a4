import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createHash, randomBytes } from "node:crypto";
import Docker from "dockerode";

/**
 * Shared pieces of the reliability suite: a real dashboard server (tsx server.ts) on its own data
 * folder, a token-authenticated API client that only talks to 127.0.0.1, an inventory of what a
 * data folder owns in the engine, and the summary lines every scenario prints.
 */
export const ROOT = path.resolve(fileURLToPath(new URL(".", import.meta.url)), "..", "..");
export const docker = new Docker();
/** Where each scenario appends its summary line; the project's global teardown prints the table. */
export const SUMMARY_FILE = process.env.MDIND_RELIABILITY_SUMMARY ?? path.join(os.tmpdir(), "mdind-reliability-summary.txt");
/** "ci" (trimmed) unless the bench runs it with MDIND_RELIABILITY_PROFILE=full. */
export const FULL = process.env.MDIND_RELIABILITY_PROFILE === "full";

export function summary(line: string): void {
  process.stdout.write(`${line}\n`);
  fs.appendFileSync(SUMMARY_FILE, `${line}\n`);
}

export function tempHome(prefix = "mdind-rel-"): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Same hash as lib/docker homeId(): which engine resources a data folder owns. */
export function homeIdOf(home: string): string {
  // A local copy so the test process never loads lib/ with another MDIND_HOME by accident.
  return createHash("sha256").update(path.resolve(home)).digest("hex").slice(0, 12);
}

export interface Inventory {
  containers: { name: string; instance: string; state: string }[];
  networks: { name: string; subnet: string }[];
  folders: string[];
}

/** Everything labelled with this data folder in the engine, plus its instance folders. */
export async function inventory(home: string): Promise<Inventory> {
  const id = homeIdOf(home);
  const cs = await docker.listContainers({ all: true, filters: { label: [`org.moodle-dind.home=${id}`] } });
  const ns = await docker.listNetworks({ filters: { label: [`org.moodle-dind.home=${id}`] } });
  let folders: string[] = [];
  try {
    folders = fs.readdirSync(path.join(home, "instances"));
  } catch {
    folders = [];
  }
  return {
    containers: cs.map((c) => ({ name: (c.Names?.[0] ?? "").replace(/^\//, ""), instance: c.Labels["org.moodle-dind.instance"] ?? "", state: c.State })),
    networks: ns.map((n) => ({ name: n.Name, subnet: n.IPAM?.Config?.[0]?.Subnet ?? "" })),
    folders,
  };
}

/** Remove whatever a data folder still owns in the engine (test cleanup, never someone else's). */
export async function purgeHome(home: string): Promise<void> {
  const id = homeIdOf(home);
  const cs = await docker.listContainers({ all: true, filters: { label: [`org.moodle-dind.home=${id}`] } });
  await Promise.all(cs.map((c) => docker.getContainer(c.Id).remove({ force: true, v: true }).catch(() => undefined)));
  const ns = await docker.listNetworks({ filters: { label: [`org.moodle-dind.home=${id}`] } });
  for (const n of ns) await docker.getNetwork(n.Id).remove().catch(() => undefined);
  spawnSync("rm", ["-rf", "--one-file-system", home]);
}

/** Run the real CLI as its own process. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export function cliSpawn(args: string[], env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [path.join(ROOT, "bin", "moodle-dind.mjs"), ...args], {
    cwd: ROOT,
    env: { ...process.env, MDIND_NO_PULL: "1", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
}

export function cli(args: string[], env: Record<string, string>, timeoutMs = 300_000): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = cliSpawn(args, env);
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    const t = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("close", (code, signal) => {
      clearTimeout(t);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** A file that must never appear: hostile payloads try to create it. */
export function canary(): string {
  return path.join(os.tmpdir(), `mdind-pwned-${randomBytes(6).toString("hex")}`);
}

// ---------------------------------------------------------------------------------------------
// The dashboard server

export interface Server {
  port: number;
  home: string;
  base: string;
  token: string;
  password: string;
  /** Every stdout line the server printed (JSON lines from server.ts, plus Next's own output). */
  lines: string[];
  stderr: string[];
  proc: ChildProcess;
  stop(): Promise<void>;
  api(method: string, p: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResult>;
}

export interface ApiResult {
  status: number;
  text: string;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- any JSON body, probed ad hoc by concurrency/observability/security tests; unknown would need casts there
  json: any;
  headers: Headers;
}

const DEV_LOCK = path.join(ROOT, ".next", "dev", "lock");

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * `next dev` allows one server per project folder (.next/dev/lock). Other suites (e2e) start one
 * too; wait for theirs to finish instead of failing or breaking them.
 */
async function waitDevLock(maxMs = 15 * 60_000): Promise<void> {
  const until = Date.now() + maxMs;
  while (Date.now() < until) {
    let pid = 0;
    try {
      pid = Number(JSON.parse(fs.readFileSync(DEV_LOCK, "utf8")).pid) || 0;
    } catch {
      return;
    }
    if (!pid || !pidAlive(pid)) return;
    await sleep(2000);
  }
  throw new Error("another `next dev` server kept .next/dev/lock for too long");
}

export async function freePort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
}

/**
 * One HTTP request on a fresh connection (node:http, no keep-alive pool): a pooled socket the server
 * closes after its 5 s idle timeout would otherwise fail a request at random ("other side closed").
 */
export function request(base: string, method: string, p: string, body?: unknown, headers: Record<string, string> = {}): Promise<ApiResult> {
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) if (v !== "") h[k.toLowerCase()] = v;
  let payload: Buffer | undefined;
  if (body !== undefined) {
    if (typeof body === "string") payload = Buffer.from(body);
    else if (body instanceof Uint8Array) payload = Buffer.from(body);
    else {
      payload = Buffer.from(JSON.stringify(body));
      h["content-type"] ??= "application/json";
    }
    h["content-length"] = String(payload.length);
  }
  const url = new URL(`${base}${p}`);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: "127.0.0.1", port: url.port, path: `${url.pathname}${url.search}`, method, headers: h, agent: false, timeout: 600_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let json: unknown = null;
          try {
            json = JSON.parse(text);
          } catch {
            json = null;
          }
          const hs = new Headers();
          for (const [k, v] of Object.entries(res.headers)) {
            for (const one of Array.isArray(v) ? v : v === undefined ? [] : [v]) hs.append(k, one);
          }
          resolve({ status: res.statusCode ?? 0, text, json, headers: hs });
        });
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${method} ${p}: timeout`)));
    req.on("error", reject);
    req.end(payload);
  });
}

export async function startServer(env: Record<string, string> = {}, home = tempHome()): Promise<Server> {
  await waitDevLock();
  const port = await freePort();
  const password = `rel-${randomBytes(9).toString("base64url")}`;
  const lines: string[] = [];
  const stderr: string[] = [];
  const proc = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), ["server.ts"], {
    cwd: ROOT,
    detached: true,
    env: {
      ...process.env,
      NODE_ENV: "development",
      MDIND_HOME: home,
      MDIND_ADMIN_PASSWORD: password,
      MDIND_DASHBOARD_PORT: String(port),
      MDIND_DASHBOARD_HOST: "127.0.0.1",
      MDIND_DEFAULT_MOODLE: "fixture",
      MDIND_NO_PULL: "1",
      // Other data folders share this engine: never clean up what is not ours on start.
      MDIND_RECONCILE_ON_START: "report",
      NEXT_TELEMETRY_DISABLED: "1",
      ...env,
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Never outlive the test process: a leftover dev server holds .next/dev/lock for everyone.
  const killOnExit = () => {
    try {
      process.kill(-proc.pid!, "SIGKILL");
    } catch {
      /* already gone */
    }
  };
  process.once("exit", killOnExit);
  proc.once("exit", () => process.off("exit", killOnExit));
  let buf = "";
  proc.stdout!.on("data", (d: Buffer) => {
    buf += d.toString();
    const parts = buf.split("\n");
    buf = parts.pop() ?? "";
    lines.push(...parts);
  });
  proc.stderr!.on("data", (d: Buffer) => stderr.push(d.toString()));
  const base = `http://127.0.0.1:${port}`;
  const until = Date.now() + 300_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`server exited: ${stderr.join("").slice(-2000)}\n${lines.join("\n").slice(-2000)}`);
    if (lines.some((l) => l.includes('"event":"listening"'))) break;
    if (Date.now() > until) throw new Error("server did not start");
    await sleep(300);
  }
  const server: Server = {
    port,
    home,
    base,
    token: "",
    password,
    lines,
    stderr,
    proc,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return;
      const done = new Promise((r) => proc.once("exit", r));
      try {
        process.kill(-proc.pid!, "SIGTERM");
      } catch {
        return;
      }
      const t = setTimeout(() => {
        try {
          process.kill(-proc.pid!, "SIGKILL");
        } catch {
          /* already gone */
        }
      }, 8000);
      await done;
      clearTimeout(t);
    },
    api(method, p, body, headers = {}) {
      return request(base, method, p, body, { authorization: `Bearer ${server.token}`, ...headers });
    },
  };
  server.token = await loginToken(base, password);
  return server;
}

/** Log in with the admin password, then mint an API token with the session (CSRF header). */
export async function loginToken(base: string, password: string, name = `rel-${randomBytes(3).toString("hex")}`): Promise<string> {
  const s = await login(base, password);
  const t = await request(base, "POST", "/api/v1/auth/tokens", { name }, { cookie: s.cookie, "x-mdind-csrf": s.csrf });
  if (t.status !== 201) throw new Error(`token: ${t.status} ${t.text}`);
  return t.json.token as string;
}

export async function login(base: string, password: string): Promise<{ cookie: string; csrf: string; status: number }> {
  const r = await request(base, "POST", "/api/v1/auth/login", { password });
  if (r.status !== 200) return { cookie: "", csrf: "", status: r.status };
  const cookies = (r.headers.getSetCookie?.() ?? []).map((c) => c.split(";")[0]);
  return { cookie: cookies.join("; "), csrf: r.json.csrf as string, status: r.status };
}

/** Poll GET /instances/{name} until its status is one of `want` (or it is gone when want has "gone"). */
export async function waitStatus(s: Server, name: string, want: string[], maxMs = 300_000): Promise<string> {
  const until = Date.now() + maxMs;
  let last = "";
  while (Date.now() < until) {
    const r = await s.api("GET", `/api/v1/instances/${name}`);
    last = r.status === 404 ? "gone" : String(r.json?.status ?? r.status);
    if (want.includes(last)) return last;
    // Gone when we wait for it to run: a create that failed and rolled back. Say why at once.
    if (last === "gone") {
      const ops = await s.api("GET", `/api/v1/operations?instance=${encodeURIComponent(name)}`);
      const failed = (ops.json?.operations as { op: string; status: string; error?: string }[] | undefined)?.find((o) => o.status === "failed");
      if (failed) throw new Error(`${name}: ${failed.op} failed: ${failed.error}`);
    }
    await sleep(1000);
  }
  throw new Error(`${name}: still ${last} after ${maxMs} ms (wanted ${want.join("|")})`);
}

/** HTTP status of an instance's own site on its published 127.0.0.1 port. */
export async function siteStatus(port: number, pathname = "/"): Promise<number> {
  try {
    const r = await fetch(`http://127.0.0.1:${port}${pathname}`, { redirect: "manual", signal: AbortSignal.timeout(15_000) });
    await r.arrayBuffer();
    return r.status;
  } catch {
    return 0;
  }
}

export function dockerExec(container: string, cmd: string[], timeoutMs = 60_000): { code: number | null; out: string; err: string } {
  const r = spawnSync("docker", ["exec", container, ...cmd], { encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, out: r.stdout ?? "", err: r.stderr ?? "" };
}
