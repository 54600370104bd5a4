import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../../lib/docker";
import { execIn } from "../../lib/exec";
import { ensureHostImage, HOST_IMAGE } from "../../lib/host/image";
import { defaultHostOptions, outerMtu, startHost, stopHost, waitHealthy, type HostOptions } from "../../lib/host/container";
import { syncSharedImages } from "../../lib/host/shared";
import { ensureImages } from "../../lib/images/build";

/**
 * The DinD host end to end, on the real engine: build the host image, start it (privileged or the
 * capability fallback, whichever this engine allows), preload tarballs made here, create an
 * instance inside through the host's own CLI, reach it on 127.0.0.1 through both layers of port
 * mapping, catch its mail, open its DB admin, kill and restart the host and find everything again.
 * One file, sequential: it is the most expensive test we have.
 */
const run = promisify(execFile);
const ROOT = path.resolve(__dirname, "../..");
const TAG = randomBytes(3).toString("hex");
const NAME = `mdind-it-host-${TAG}`;
const DASH = 17800;
const OUTER_BASE = 18000;
const PASSWORD = `it-${randomBytes(12).toString("hex")}`;
const INSTANCE = "itdemo";
const TINY = `mdind-it/tiny:${TAG}`;
const STACK = [
  { kind: "php", version: "8.2" },
  { kind: "postgres", version: "15" },
  { kind: "nginx", version: "1.22" },
];
const log = (l: string) => process.stderr.write(`[dind-host] ${l}\n`);

let shared = "";
let opts: HostOptions;
let cookie = "";
let mode = "";

const base = `http://127.0.0.1:${DASH}`;
const api = (p: string, init: RequestInit = {}, auth = true) =>
  fetch(`${base}${p}`, { redirect: "manual", ...init, headers: { ...(auth ? { cookie } : {}), ...(init.headers ?? {}) } });

/** The host's own CLI, run inside it against the inner engine. */
async function hostCli(args: string[], timeoutMs = 600_000) {
  return execIn(NAME, ["node", "bin/moodle-dind.mjs", ...args], { check: false, timeoutMs, what: `moodle-dind ${args[0]}` });
}

async function until<T>(what: string, timeoutMs: number, fn: () => Promise<T | null | undefined | false>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr = "";
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (e) {
      lastErr = e instanceof Error ? e.message : String(e);
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${lastErr ? `: ${lastErr}` : ""}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}

interface FixturePage {
  db_visits: number;
  moodledata_counter: number;
  mail_sent_to?: string;
}

async function fixture(port: number, query = ""): Promise<FixturePage> {
  const res = await fetch(`http://127.0.0.1:${port}/${query}`, { signal: AbortSignal.timeout(20_000) });
  if (res.status !== 200) throw new Error(`instance answered ${res.status}`);
  return (await res.json()) as FixturePage;
}

async function login(): Promise<void> {
  const res = await fetch(`${base}/api/v1/auth/login`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ password: PASSWORD }),
  });
  expect(res.status).toBe(200);
  cookie = res.headers
    .getSetCookie()
    .map((c) => c.split(";")[0])
    .join("; ");
}

let outerPort = 0;

describe("DinD host", () => {
  beforeAll(async () => {
    shared = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-it-shared-"));
    // Instance images come into the inner engine only through shared-images tarballs.
    await ensureImages(STACK, log);
    await syncSharedImages(shared, STACK, log);

    // A tiny image made here: a one-file rootfs imported, then saved like any shared image.
    const rootfs = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-it-rootfs-"));
    await fs.mkdir(path.join(rootfs, "fs"));
    await fs.writeFile(path.join(rootfs, "fs", "hello.txt"), `tiny ${TAG}\n`);
    await run("tar", ["-C", path.join(rootfs, "fs"), "-cf", path.join(rootfs, "rootfs.tar"), "hello.txt"]);
    await run("docker", ["import", path.join(rootfs, "rootfs.tar"), TINY]);
    await run("docker", ["save", "-o", path.join(shared, "tiny.tar"), TINY]);
    await fs.rm(rootfs, { recursive: true, force: true });
    // And a broken one: the same archive cut in half must be reported without stopping the rest.
    const whole = await fs.readFile(path.join(shared, "tiny.tar"));
    await fs.writeFile(path.join(shared, "broken.tar"), whole.subarray(0, Math.floor(whole.length / 2)));

    // The payload is the last commit: a shared working tree may hold someone's half-written file.
    process.env.MDIND_HOST_SOURCE ??= "head";
    await ensureHostImage({ root: ROOT, onProgress: log });

    opts = {
      ...defaultHostOptions(ROOT),
      name: NAME,
      image: HOST_IMAGE,
      dockerVolume: `${NAME}-docker`,
      dataVolume: `${NAME}-data`,
      sharedDir: shared,
      bindAddress: "127.0.0.1",
      dashboardPort: DASH,
      portMin: 8000,
      portMax: 8001,
      outerPortBase: OUTER_BASE,
      mtu: await outerMtu(),
      env: { MDIND_ADMIN_PASSWORD: PASSWORD },
    };
  });

  afterAll(async () => {
    if (opts) {
      await hostCli(["remove", INSTANCE, "--yes"], 120_000).catch(() => undefined);
      await docker().getContainer(NAME).remove({ force: true }).catch(() => undefined);
      await docker().getVolume(opts.dockerVolume).remove().catch(() => undefined);
      await docker().getVolume(opts.dataVolume).remove().catch(() => undefined);
    }
    await docker().getImage(TINY).remove({ force: true }).catch(() => undefined);
    if (shared) await fs.rm(shared, { recursive: true, force: true });
  });

  it("starts healthy, falling back from --privileged when the engine refuses it", async () => {
    const lines: string[] = [];
    const r = await startHost(opts, (l) => {
      lines.push(l);
      log(l);
    });
    mode = r.mode;
    expect(["privileged", "capabilities"]).toContain(r.mode);
    if (r.mode === "capabilities") expect(lines.join("\n")).toMatch(/refused --privileged \(.+\)/);
    await waitHealthy(NAME, 240_000, log);
    const health = await fetch(`${base}/api/v1/health`);
    expect(await health.json()).toEqual({ ok: true });
  });

  it("refuses unauthenticated access to the mail API, the DB admin and the preload state", async () => {
    for (const p of [`/api/v1/instances/${INSTANCE}/mail`, `/api/v1/instances/${INSTANCE}/dbadmin`, "/api/v1/preload"]) {
      const res = await api(p, {}, false);
      expect(res.status, p).toBe(401);
    }
    const adminer = await api("/adminer", {}, false);
    expect(adminer.status).not.toBe(200);
    expect([401, 307, 302, 303]).toContain(adminer.status);
    const post = await api("/adminer", { method: "POST", body: "auth[driver]=pgsql" }, false);
    expect(post.status).not.toBe(200);
  });

  it("preloads the shared tarballs with progress, reporting the broken one", async () => {
    await login();
    const state = await until("preload to finish", 600_000, async () => {
      const res = await api("/api/v1/preload");
      const s = (await res.json()) as { running: boolean; files: { file: string; status: string; read: number; size: number; error?: string }[] };
      return !s.running && s.files.length > 0 ? s : null;
    });
    log(`preload: ${JSON.stringify(state.files.map((f) => [f.file, f.status, f.read, f.size]))}`);
    const byName = Object.fromEntries(state.files.map((f) => [f.file, f]));
    expect(byName["tiny.tar"].status).toMatch(/loaded|skipped/);
    expect(byName["broken.tar"].status).toBe("failed");
    expect(byName["broken.tar"].error).toMatch(/malformed|truncated/);
    for (const w of STACK) expect(byName[`${w.kind}-${w.version}.tar`].status, w.kind).toMatch(/loaded|skipped/);
    const loaded = state.files.filter((f) => f.status === "loaded");
    for (const f of loaded) expect(f.read).toBe(f.size);
    const inner = await execIn(NAME, ["docker", "image", "inspect", "--format", "{{.Id}}", TINY], { check: false });
    expect(inner.exitCode).toBe(0);
    const dash = await execIn(NAME, ["grep", "-c", "preload_loaded\\|preload_skipped", "/var/log/supervisor/dashboard.log"], { check: false });
    expect(Number(dash.stdout.trim())).toBeGreaterThanOrEqual(4);
  });

  it("creates an instance inside the host and reaches it on 127.0.0.1 through both port mappings", async () => {
    const r = await hostCli(["create", INSTANCE, "--moodle", "fixture", "--json"]);
    if (r.exitCode !== 0) throw new Error(`create failed: ${r.stderr.slice(-2000)}`);
    const view = JSON.parse(r.stdout.trim().split("\n").pop()!) as { port: number; n: number; status: string };
    expect(view.port).toBeGreaterThanOrEqual(8000);
    expect(view.port).toBeLessThanOrEqual(8001);
    outerPort = OUTER_BASE + (view.port - 8000);
    const page = await until("the instance to answer", 180_000, () => fixture(outerPort));
    expect(page.db_visits).toBeGreaterThanOrEqual(1);
  });

  it("catches mail sent by the instance's PHP in that instance's mailbox", async () => {
    const page = await fixture(outerPort, "?mail=someone@x.test");
    expect(page.mail_sent_to).toBe("someone@x.test");
    const list = await until("the mail to be listed", 30_000, async () => {
      const res = await api(`/api/v1/instances/${INSTANCE}/mail`);
      const body = (await res.json()) as { total: number; messages: { id: string; subject: string; to: string[] }[] };
      return body.total > 0 ? body : null;
    });
    const m = list.messages[0];
    expect(m.to).toContain("someone@x.test");
    expect(m.subject).toMatch(/^Fixture mail \d+$/);
    const full = (await (await api(`/api/v1/instances/${INSTANCE}/mail/${m.id}`)).json()) as { text: string };
    expect(full.text).toContain("Hello from the fixture app.");
    const unknown = (await (await api(`/api/v1/instances/_unknown/mail`)).json()) as { total: number };
    expect(unknown.total).toBe(0);
  });

  it("opens the DB admin logged in to the instance's database", async () => {
    const mint = await api(`/api/v1/instances/${INSTANCE}/dbadmin`);
    expect(mint.status).toBe(303);
    let location = mint.headers.get("location")!;
    expect(location).toMatch(/^\/adminer\/?\?mdind_token=[A-Za-z0-9_-]{43}$/);
    const jar = new Map<string, string>();
    let page = "";
    for (let hop = 0; hop < 6; hop++) {
      const extra = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
      const res = await fetch(new URL(location, `${base}/adminer`), { redirect: "manual", headers: { cookie: [cookie, extra].filter(Boolean).join("; ") } });
      for (const c of res.headers.getSetCookie()) {
        const [kv] = c.split(";");
        const i = kv.indexOf("=");
        jar.set(kv.slice(0, i), kv.slice(i + 1));
      }
      if (res.status >= 300 && res.status < 400) {
        location = res.headers.get("location")!;
        continue;
      }
      expect(res.status).toBe(200);
      page = await res.text();
      break;
    }
    expect(location).toMatch(/pgsql=172\.20\.\d+\.12/);
    expect(page).not.toMatch(/<title>Login/);
    // Logged in: Adminer lists the instance's tables (Postgres: in schema public), the fixture's among them.
    if (!page.includes("mdl_fixture_visits")) {
      const extra = [...jar].map(([k, v]) => `${k}=${v}`).join("; ");
      const res = await fetch(new URL(`${location}&ns=public`, `${base}/adminer`), { headers: { cookie: `${cookie}; ${extra}` } });
      expect(res.status).toBe(200);
      page = await res.text();
    }
    expect(page).toContain("mdl_fixture_visits");
    // The one-time link is spent.
    const again = await fetch(new URL(mint.headers.get("location")!.replace("/adminer/", "/adminer"), base), { headers: { cookie } });
    expect(again.status).toBe(410);
  });

  it("survives a killed host: the instance comes back with its data and allocation", async () => {
    const before = await fixture(outerPort);
    const info1 = JSON.parse((await hostCli(["info", INSTANCE, "--json"])).stdout) as { port: number; n: number };
    await docker().getContainer(NAME).kill();
    await until("the host to stop", 30_000, async () => !(await docker().getContainer(NAME).inspect()).State.Running);
    const r = await startHost(opts, log);
    expect(r.created).toBe(false);
    await waitHealthy(NAME, 240_000, log);
    const after = await until("the instance to answer again", 240_000, () => fixture(outerPort));
    expect(after.db_visits).toBeGreaterThan(before.db_visits);
    expect(after.moodledata_counter).toBeGreaterThan(before.moodledata_counter);
    const info2 = JSON.parse((await hostCli(["info", INSTANCE, "--json"])).stdout) as { port: number; n: number };
    expect({ port: info2.port, n: info2.n }).toEqual({ port: info1.port, n: info1.n });
    await login();
    const mail = (await (await api(`/api/v1/instances/${INSTANCE}/mail`)).json()) as { total: number };
    expect(mail.total).toBeGreaterThan(0);
    log(`host mode was ${mode}`);
  });

  it("survives a restart of the inner dockerd alone", async () => {
    const before = await fixture(outerPort);
    const r = await execIn(NAME, ["supervisorctl", "restart", "dockerd"], { check: false, timeoutMs: 180_000 });
    expect(r.stdout).toMatch(/dockerd: started/);
    const after = await until("the instance to answer after dockerd restarted", 240_000, () => fixture(outerPort));
    expect(after.db_visits).toBeGreaterThan(before.db_visits);
  });

  it("down removes the container (its ports are free) and keeps everything; up brings it back", async () => {
    const before = await fixture(outerPort);
    expect(await stopHost(NAME, log)).toBe(true);
    const gone = await docker().getContainer(NAME).inspect().then(() => false, (e: { statusCode?: number }) => e.statusCode === 404);
    expect(gone).toBe(true);
    // Nothing on the engine publishes the host's ports any more.
    const held = (await docker().listContainers({ all: true })).flatMap((c) => (c.Ports ?? []).map((p) => p.PublicPort));
    expect(held).not.toContain(DASH);
    expect(held).not.toContain(outerPort);
    const r = await startHost(opts, log);
    expect(r.created).toBe(true);
    await waitHealthy(NAME, 240_000, log);
    const after = await until("the instance to answer after down and up", 240_000, () => fixture(outerPort));
    expect(after.db_visits).toBeGreaterThan(before.db_visits);
    expect(after.moodledata_counter).toBeGreaterThan(before.moodledata_counter);
  });
});
