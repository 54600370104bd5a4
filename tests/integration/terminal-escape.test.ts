import { spawn, type ChildProcess } from "node:child_process";
import { randomInt } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Issue #18: a terminal session must end with everything it started, including a process that
 * clears its environment and leaves the session (`env -i setsid …`) and a nohup'd one, and a
 * dashboard that was SIGKILLed must have its sessions ended by the next dashboard's start-up sweep.
 * Host sessions run through node-pty for real, in each containment this machine offers; container
 * sessions run in a throwaway container on the real engine (skipped without an engine or image).
 * Every check looks for a sleep with a unique argument in /proc (host) or `ps` (container).
 */
const ROOT = path.resolve(import.meta.dirname, "..", "..");
const HOME = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-termesc-"));
process.env.MDIND_HOME = HOME;
// The host shell is a login shell in $HOME: an empty one, so nobody's slow ~/.bashrc runs (pyenv init can take 30 s).
process.env.HOME = path.join(HOME, "user");
fs.mkdirSync(process.env.HOME);

const { openHostShell } = await import("../../services/terminal/host-shell");
const { openExecShell } = await import("../../services/terminal/shells");
const { sweepOrphans } = await import("../../services/terminal/sweep");
const { containmentAvailable } = await import("../../services/terminal/containment");
const { docker, managedLabels } = await import("../../lib/docker");
const { execIn } = await import("../../lib/exec");

/** A sleep argument no other process on the machine has; afterAll kills whatever still runs with one. */
const tags: string[] = [];
const tag = () => {
  const t = `7${randomInt(100000, 999999)}.${randomInt(100000, 999999)}`;
  tags.push(t);
  return t;
};

/** Live (non-zombie) host processes whose argv is exactly `sleep <arg>`. */
function hostSleeps(arg: string): number[] {
  const out: number[] = [];
  for (const e of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      const st = fs.readFileSync(`/proc/${e}/stat`, "utf8");
      if (st.slice(st.lastIndexOf(")") + 2).startsWith("Z")) continue;
      if (fs.readFileSync(`/proc/${e}/cmdline`, "utf8") === `sleep\0${arg}\0`) out.push(Number(e));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

async function until(cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<boolean> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return true;
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The hostile lines typed into every shell: a session-leaving, env-clearing job and a nohup'd one. */
const escapes = (a: string, b: string) => `env -i setsid sleep ${a} & nohup sleep ${b} >/dev/null 2>&1 &\n`;

/** A dashboard in a child process: opens one session with `code`, types the escapes, then waits to be killed. */
function fakeDashboard(code: string): ChildProcess {
  // node itself with tsx's loader, not the tsx wrapper: the process killed must be the owner.
  const child = spawn(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    cwd: ROOT,
    env: { ...process.env, MDIND_HOME: HOME },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
  return child;
}

type Shell = Awaited<ReturnType<typeof openHostShell>>;
const opened: Shell[] = [];
afterAll(async () => {
  // Whatever a failed assertion left behind: its sessions, then any sleep still carrying a tag.
  await Promise.all(opened.map((s) => s.end()));
  for (const p of tags.flatMap(hostSleeps)) {
    try {
      process.kill(p, "SIGKILL");
    } catch {
      // gone
    }
  }
  fs.rmSync(HOME, { recursive: true, force: true });
});

async function hostShell(): Promise<Shell> {
  const shell = await openHostShell(80, 24);
  opened.push(shell);
  return shell;
}

const hostKinds: string[] = [];
for (const k of ["cgroup", "pidns"] as const) if ((await containmentAvailable(k)).ok) hostKinds.push(k);

describe("host terminal", { timeout: 120_000 }, () => {
  it("finds at least one containment on this machine", () => {
    // cgroup v2 with cgroup.kill, or unshare --pid as root; CI and the DinD host have both.
    expect(hostKinds.length).toBeGreaterThan(0);
  });

  it.each(hostKinds)("%s: ending a session ends its env -i setsid and nohup children", async (kind) => {
    process.env.MDIND_TERMINAL_CONTAINMENT = kind;
    try {
      const shell = await hostShell();
      expect(shell.containment).toBe(kind);
      const [a, b] = [tag(), tag()];
      shell.write(escapes(a, b));
      expect(await until(() => hostSleeps(a).length === 1 && hostSleeps(b).length === 1)).toBe(true);
      const r = await shell.end();
      expect(r.ok, r.detail).toBe(true);
      expect(await until(() => hostSleeps(a).length === 0 && hostSleeps(b).length === 0, 5000)).toBe(true);
    } finally {
      delete process.env.MDIND_TERMINAL_CONTAINMENT;
    }
  });

  it("marker only (the fallback): env -i setsid escapes, which is why the containments exist", async () => {
    process.env.MDIND_TERMINAL_CONTAINMENT = "marker";
    try {
      const shell = await hostShell();
      const [a, b] = [tag(), tag()];
      shell.write(escapes(a, b));
      expect(await until(() => hostSleeps(a).length === 1 && hostSleeps(b).length === 1)).toBe(true);
      const escaped = hostSleeps(a);
      await shell.end();
      expect(await until(() => hostSleeps(b).length === 0, 5000)).toBe(true);
      expect(hostSleeps(a)).toEqual(escaped);
    } finally {
      delete process.env.MDIND_TERMINAL_CONTAINMENT;
    }
  });

  it.each(hostKinds)("%s: the start-up sweep ends the sessions of a SIGKILLed dashboard", async (kind) => {
    const [a, b] = [tag(), tag()];
    const mod = JSON.stringify(path.join(ROOT, "services/terminal/host-shell.ts"));
    const child = fakeDashboard(
      `process.env.MDIND_TERMINAL_CONTAINMENT = ${JSON.stringify(kind)};
       import(${mod}).then(async (m) => { const s = await m.openHostShell(80, 24); s.write(${JSON.stringify(escapes(a, b))}); });`,
    );
    try {
      expect(await until(() => hostSleeps(a).length === 1 && hostSleeps(b).length === 1, 30_000)).toBe(true);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      // A pid namespace dies with its launcher (the pty hangup kills it); a cgroup outlives its dashboard.
      if (kind === "cgroup") {
        await new Promise((r) => setTimeout(r, 500));
        expect(hostSleeps(a).length + hostSleeps(b).length).toBe(2);
      }
      const report = await sweepOrphans(undefined, { containers: [] });
      expect(report.errors).toEqual([]);
      expect(await until(() => hostSleeps(a).length === 0 && hostSleeps(b).length === 0, 5000)).toBe(true);
      if (kind === "cgroup") expect(report.cgroups).toBeGreaterThan(0);
    } finally {
      child.kill("SIGKILL");
    }
  });

  it("the sweep leaves a live dashboard's sessions alone", async () => {
    const shell = await hostShell();
    const a = tag();
    shell.write(`sleep ${a} &\n`);
    try {
      expect(await until(() => hostSleeps(a).length === 1)).toBe(true);
      await sweepOrphans(undefined, { containers: [] });
      expect(hostSleeps(a).length).toBe(1);
    } finally {
      await shell.end();
    }
  });
});

/** A throwaway container labelled as this data dir's, so the sweep's own listing finds it. */
const IMAGE = "moodle-dind/php:8.2";
const NAME = `mdind-termesc-${process.pid}-${randomInt(1000, 9999)}`;
let engine = false;
try {
  await docker().ping();
  await docker().getImage(IMAGE).inspect();
  engine = true;
} catch {
  engine = false;
}

/** `sleep <arg>` running (not a zombie) in the container, from `ps` through the engine. */
async function containerSleeps(arg: string): Promise<number> {
  const r = await execIn(NAME, ["ps", "-eo", "stat=,args="], { check: false });
  return r.stdout.split("\n").filter((l) => !l.trim().startsWith("Z") && l.trim().endsWith(`sleep ${arg}`)).length;
}

const PLAN = { cmd: ["sh", "-c", "exec bash -l"], user: "www-data", workdir: "/tmp", env: ["TERM=xterm-256color"] };

/** A container shell whose output is read, as a session reads it: an unread exec stream never ends. */
async function containerShell() {
  const shell = await openExecShell(NAME, PLAN, 80, 24);
  shell.onData(() => undefined);
  opened.push(shell);
  return shell;
}

describe.skipIf(!engine)("container terminal", { timeout: 120_000 }, () => {
  beforeAll(async () => {
    const c = await docker().createContainer({
      name: NAME,
      Image: IMAGE,
      Entrypoint: ["/usr/bin/tini", "-s", "--"],
      Cmd: ["sleep", "infinity"],
      Labels: managedLabels({ "org.moodle-dind.test": "terminal-escape" }),
      HostConfig: { NetworkMode: "none" },
    });
    await c.start();
  });
  afterAll(async () => {
    await docker().getContainer(NAME).remove({ force: true }).catch(() => undefined);
  });

  it("ending a session ends its env -i setsid and nohup children", async () => {
    const shell = await containerShell();
    expect(shell.containment).toBe("launcher");
    const [a, b] = [tag(), tag()];
    shell.write(escapes(a, b));
    expect(await until(async () => (await containerSleeps(a)) === 1 && (await containerSleeps(b)) === 1)).toBe(true);
    const r = await shell.end();
    expect(r.ok, r.detail).toBe(true);
    expect(await containerSleeps(a)).toBe(0);
    expect(await containerSleeps(b)).toBe(0);
  });

  it("a shell that exits takes its escaped children with it", async () => {
    const shell = await containerShell();
    const a = tag();
    const exited = new Promise<number | null>((r) => shell.onExit(r));
    shell.write(`env -i setsid sh -c 'sleep ${a} & exit'; sleep 0.3; exit 7\n`);
    expect(await exited).toBe(7);
    expect(await until(async () => (await containerSleeps(a)) === 0, 5000)).toBe(true);
    await shell.end();
  });

  it("the start-up sweep ends the sessions of a SIGKILLed dashboard", async () => {
    const [a, b] = [tag(), tag()];
    const mod = JSON.stringify(path.join(ROOT, "services/terminal/shells.ts"));
    const child = fakeDashboard(
      `import(${mod}).then(async (m) => { const s = await m.openExecShell(${JSON.stringify(NAME)}, ${JSON.stringify(PLAN)}, 80, 24); s.onData(() => undefined); s.write(${JSON.stringify(escapes(a, b))}); });`,
    );
    try {
      expect(await until(async () => (await containerSleeps(a)) === 1 && (await containerSleeps(b)) === 1, 30_000)).toBe(true);
      child.kill("SIGKILL");
      await new Promise((r) => child.once("exit", r));
      // moby #9098: the engine keeps the exec running without its client.
      await new Promise((r) => setTimeout(r, 1000));
      expect((await containerSleeps(a)) + (await containerSleeps(b))).toBe(2);
      // The default listing: this data dir's running containers, which is the one above.
      const report = await sweepOrphans();
      expect(report.errors).toEqual([]);
      expect(report.containerSessions).toBe(1);
      expect(await containerSleeps(a)).toBe(0);
      expect(await containerSleeps(b)).toBe(0);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
