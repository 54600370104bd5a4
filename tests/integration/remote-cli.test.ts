import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { cli, get, ROOT, tempHome, type CliResult } from "../helpers/cli";
import { loginToken } from "../reliability/helpers";

/**
 * Remote CLI parity: the real dashboard (tsx server.ts, its own Next dist folder and MDIND_HOME,
 * port 7871) and the real CLI with --url/--token against fixture-app instances on the real engine.
 * Each verb runs remotely; what it did is read back with the local CLI on the same home, and
 * failures must give the same exit code both ways.
 */
const PORT = Number(process.env.MDIND_REMOTE_CLI_PORT ?? 7871);
const BASE = `http://127.0.0.1:${PORT}`;
const home = tempHome("mdind-remote-cli-");
// The remote CLI's own machine: an empty home, so nothing it prints can come from local files.
const clientHome = tempHome("mdind-remote-cli-client-");
const password = `rc-${randomBytes(9).toString("base64url")}`;
const sfx = process.pid.toString(36).slice(-4);
const A = `rc-a-${sfx}`;
const B = `rc-imp-${sfx}`;
const C = `rc-cl-${sfx}`;
const made = new Set<string>();
const figures: string[] = [];
let server: ChildProcess;
let token = "";

// The fixture app cannot run Moodle APIs: blueprint steps go to the stub that speaks the runner's
// protocol (as in blueprint-fixture.test.ts), on the server and locally alike.
const STEP_STUB = path.join(ROOT, "tests/fixture-app/admin/cli/blueprint_step_stub.php");
const localEnv = { MDIND_HOME: home, MOODLE_DIND_URL: "", MOODLE_DIND_TOKEN: "", MDIND_BLUEPRINT_STEP_SCRIPT: STEP_STUB };
const local = (args: string[]) => cli(args, localEnv);
async function remote(args: string[]): Promise<CliResult> {
  const t0 = Date.now();
  const dd = args.indexOf("--");
  const withFlags = dd >= 0 ? [...args.slice(0, dd), "--url", BASE, "--token", token, ...args.slice(dd)] : [...args, "--url", BASE, "--token", token];
  const r = await cli(withFlags, { MDIND_HOME: clientHome });
  figures.push(`${args.slice(0, 2).join(" ")}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return r;
}
const ok = (r: CliResult) => {
  expect(r.code, r.stderr).toBe(0);
  return r;
};
const json = (r: CliResult) => JSON.parse(ok(r).stdout);

async function startServer(): Promise<void> {
  server = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), ["server.ts"], {
    cwd: ROOT,
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      NODE_ENV: "development",
      MDIND_NEXT_DIST: ".next-remotecli",
      MDIND_HOME: home,
      MDIND_ADMIN_PASSWORD: password,
      MDIND_DASHBOARD_PORT: String(PORT),
      MDIND_DASHBOARD_HOST: "127.0.0.1",
      MDIND_DEFAULT_MOODLE: "fixture",
      MDIND_NO_PULL: "1",
      MDIND_RECONCILE_ON_START: "report",
      MDIND_BLUEPRINT_STEP_SCRIPT: STEP_STUB,
      NEXT_TELEMETRY_DISABLED: "1",
    },
  });
  let out = "";
  server.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  server.stderr!.on("data", (d: Buffer) => (out += d.toString()));
  const until = Date.now() + 300_000;
  while (!out.includes('"event":"listening"')) {
    if (server.exitCode !== null) throw new Error(`server exited: ${out.slice(-2000)}`);
    if (Date.now() > until) throw new Error(`server did not start: ${out.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 300));
  }
}

describe("every CLI verb over --url/--token", () => {
  beforeAll(async () => {
    await startServer();
    token = await loginToken(BASE, password, `remote-cli-${sfx}`);
  }, 600_000);

  afterAll(async () => {
    for (const n of made) await local(["remove", n, "--yes"]).catch(() => undefined);
    if (server?.pid) {
      try {
        process.kill(-server.pid, "SIGTERM");
      } catch {
        /* already gone */
      }
    }
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(clientHome, { recursive: true, force: true });
    process.stdout.write(`remote CLI timings (incl. ~CLI start): ${figures.join("; ")}\n`);
  }, 600_000);

  it("create, list, info and list --names agree with the local CLI", async () => {
    made.add(A);
    const view = json(await remote(["create", A, "--moodle", "fixture", "--php", "8.2", "--web-version", "1.22", "--json"]));
    expect(view).toMatchObject({ name: A, status: "running", web: "nginx:1.22" });
    expect(JSON.parse((await get(view.port, "/")).body).site).toBe(`Moodle ${A}`);
    const [rl, ll] = [json(await remote(["list", "--json"])), json(await local(["list", "--json"]))];
    const pick = (l: { name: string; port: number; php: string; db: string; web: string; subnet: string }[]) => l.map(({ name, port, php, db, web, subnet }) => ({ name, port, php, db, web, subnet }));
    expect(pick(rl)).toEqual(pick(ll));
    expect(ok(await remote(["list", "--names"])).stdout).toBe(ok(await local(["list", "--names"])).stdout);
    const [ri, li] = [json(await remote(["info", A, "--show-password", "--json"])), json(await local(["info", A, "--show-password", "--json"]))];
    expect(ri.admin).toEqual(li.admin);
    expect(ri.port).toBe(li.port);
  });

  it("blueprint apply, then again (unchanged)", async () => {
    const bp = path.join(home, "bp.json");
    fs.writeFileSync(bp, JSON.stringify({ steps: [{ step: "setConfig", name: "rcli", value: "1" }] }));
    expect(json(await remote(["blueprint", "apply", A, bp, "--json"])).status).toBe("applied");
    expect(json(await local(["blueprint", "apply", A, bp, "--json"])).status).toBe("unchanged");
  });

  it("config list, get and set, and mail list, show and clear agree with the local CLI", async () => {
    const [rl, ll] = [json(await remote(["config", "list", A, "--json"])), json(await local(["config", "list", A, "--json"]))];
    expect(rl).toEqual(ll);
    const ini = (rl as { dir: string; file: string }[]).find((f) => f.file === "php.ini")!;
    const at = `${ini.dir}/${ini.file}`;
    const got = ok(await remote(["config", "get", A, at]));
    expect(got.stdout).toBe(ok(await local(["config", "get", A, at])).stdout);
    const edited = path.join(home, "php.ini");
    fs.writeFileSync(edited, `${got.stdout}\n; set by remote-cli\n`);
    const set = json(await remote(["config", "set", A, at, "--file", edited, "--json"]));
    expect(set).toMatchObject({ saved: true, validated: true });
    expect(ok(await local(["config", "get", A, at])).stdout).toContain("; set by remote-cli");
    for (const args of [["config", "get", A, `${ini.dir}/nope.ini`], ["config", "get", A, "../x"], ["mail", "show", A, "abcdefgh-0123456789ab"]]) {
      const [r, l] = [await remote(args), await local(args)];
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(l.code);
      expect(r.code).toBeGreaterThan(0);
    }
    expect(json(await remote(["mail", "list", A, "--json"]))).toEqual(json(await local(["mail", "list", A, "--json"])));
    expect(json(await remote(["mail", "clear", A, "--yes", "--json"]))).toEqual({ name: A, deleted: 0 });
  });

  it("stop, start, restart, logs, profile and php", async () => {
    expect(json(await remote(["stop", A, "--json"])).status).toBe("stopped");
    expect(json(await local(["info", A, "--json"])).status).toBe("stopped");
    expect(json(await remote(["start", A, "--json"])).status).toBe("running");
    expect(json(await remote(["restart", A, "--json"])).status).toBe("running");
    // Container output only (nginx and php-fpm write their logs to files); both sides read the same.
    const [rl, ll] = [ok(await remote(["logs", A, "--service", "db", "--tail", "3"])), ok(await local(["logs", A, "--service", "db", "--tail", "3"]))];
    expect(rl.stdout.split("\n").length).toBe(ll.stdout.split("\n").length);
    expect(json(await remote(["profile", A, "prod", "--json"])).profile).toBe("prod");
    expect(json(await local(["info", A, "--json"])).profile).toBe("prod");
    expect(json(await remote(["php", A, "8.2", "--json"])).php).toBe("8.2");
    const switched = await remote(["php", A, "7.4", "--json"]);
    expect(json(switched).php).toBe("7.4");
    expect(switched.stderr).toMatch(/containers/);
    expect(JSON.parse((await get(json(switched).port, "/")).body).php).toMatch(/^7\.4\./);
    expect(json(await local(["info", A, "--json"])).php).toBe("7.4");
  });

  it("snapshot create, list and restore", async () => {
    const snap = json(await remote(["snapshot", "create", A, "rc", "--json"]));
    expect(snap.id).toMatch(/rc/);
    expect(snap.bytes).toBeGreaterThan(0);
    const [rs, ls] = [json(await remote(["snapshot", "list", A, "--json"])), json(await local(["snapshot", "list", A, "--json"]))];
    expect(rs).toEqual(ls);
    expect(rs.map((s: { id: string }) => s.id)).toContain(snap.id);
    const restored = await remote(["snapshot", "restore", A, snap.id, "--json"]);
    expect(json(restored).status).toBe("running");
    expect(restored.stderr).toMatch(/✓/);
  });

  it("export downloads with progress, import uploads with progress, clone copies; the sites answer", async () => {
    const dir = fs.mkdtempSync(path.join(home, "x-"));
    const rf = path.join(dir, "remote.tar.gz");
    const lf = path.join(dir, "local.tar.gz");
    // Without --json: progress lines are logs, which --json keeps off stderr.
    const re = ok(await remote(["export", A, "--file", rf]));
    const bytes = fs.statSync(rf).size;
    expect(re.stdout).toContain(`exported ${A} to ${rf} (${(bytes / 1024 / 1024).toFixed(1)} MiB)`);
    expect(re.stderr).toMatch(/received [\d.]+ (of [\d.]+ MiB \(100 %\)|MiB), [\d.]+ MiB\/s/);
    expect(re.stderr).toMatch(/✓/); // the server's export steps, followed live
    ok(await local(["export", A, "--file", lf, "--json"]));
    const entries = (f: string) => spawnSync("tar", ["-tzf", f], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).sort();
    expect(entries(rf)).toEqual(entries(lf));
    figures.push(`export ${(bytes / 1024 ** 2).toFixed(1)} MiB`);

    made.add(B);
    const im = ok(await remote(["import", rf, B]));
    expect(im.stdout).toMatch(new RegExp(`^${B} is running at http://127\\.0\\.0\\.1:\\d+/ \\(imported from `));
    expect(im.stderr).toMatch(/sent [\d.]+ of [\d.]+ MiB \(100 %\)/);
    const imported = json(await local(["info", B, "--json"]));
    expect(JSON.parse((await get(imported.port, "/")).body).app).toBe("moodle-dind fixture");

    made.add(C);
    const cl = json(await remote(["clone", A, C, "--json"]));
    expect(cl).toMatchObject({ name: C, status: "running" });
    expect(JSON.parse((await get(cl.port, "/")).body).app).toBe("moodle-dind fixture");
    expect(json(await local(["info", C, "--json"])).port).toBe(cl.port);
  });

  it("moodle, images and reconcile answer like the local CLI", async () => {
    expect(json(await remote(["moodle", "list", "--json"]))).toEqual(json(await local(["moodle", "list", "--json"])));
    const [ri, li] = [json(await remote(["images", "list", "--json"])), json(await local(["images", "list", "--json"]))];
    expect(ri.length).toBe(li.length);
    ok(await remote(["reconcile", "--json"]));
  });

  it("failures give the same exit code remotely and locally; local-only verbs say so", async () => {
    for (const args of [["info", "rc-none"], ["upgrade", A, "--to", "9.9"], ["php", A, "9.1"], ["snapshot", "restore", A, "nope"], ["clone", A, A]]) {
      const [r, l] = [await remote(args), await local(args)];
      expect(r.code, `${args.join(" ")}: ${r.stderr}`).toBe(l.code);
      expect(r.code, args.join(" ")).toBeGreaterThan(0);
    }
    expect((await remote(["up"])).code).toBe(2);
  });

  it("exec runs argv in the container over --url like locally: output, stderr and exit code", async () => {
    const probe = ["exec", A, "--service", "app", "--", "php", "-r", "echo PHP_VERSION, ' ', getcwd(); fwrite(STDERR, 'to-stderr'); exit(3);"];
    const [r, l] = [await remote(probe), await local(probe)];
    expect(r.code).toBe(3);
    expect(l.code).toBe(3);
    expect(r.stdout).toBe(l.stdout);
    expect(r.stdout).toMatch(/^\d+\.\d+\.\d+ \/var\/www\/moodle/);
    expect(r.stderr).toContain("to-stderr");
    const who = [await remote(["exec", A, "--", "id", "-un"]), await local(["exec", A, "--", "id", "-un"])];
    expect(who[0].stdout).toBe(who[1].stdout);
    // "$(id)" is one argv element handed to echo, never run by a shell.
    expect(ok(await remote(["exec", A, "--", "echo", "$(id)"])).stdout).toBe("$(id)\n");
  });

  it("remove over --url; the local registry agrees", async () => {
    for (const n of [C, B, A]) {
      ok(await remote(["remove", n, "--yes", "--json"]));
      made.delete(n);
    }
    expect(ok(await local(["list", "--names"])).stdout).toBe("");
  });
});
