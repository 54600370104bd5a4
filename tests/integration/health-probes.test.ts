import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import Docker from "dockerode";
import { cli, tempHome } from "../helpers/cli";

/**
 * Issue #18 item 4: containers carry no engine health checks; health is probed by the dashboard
 * over sockets while someone watches. Against a real fixture instance: a frozen database and a
 * frozen web server (every process but tini stopped with SIGSTOP, still "running" to the engine)
 * turn unhealthy and back to healthy as status events, within the time the dashboard promises
 * (HEALTH_PROMISE_MS); a stopped and started service shows in status; and the engine ran no exec
 * for this instance while it was watched.
 */
const home = tempHome();
process.env.MDIND_HOME = home;
const env = { MDIND_HOME: home };
const docker = new Docker();
const NAME = `hp-${process.pid.toString(36).slice(-4)}`;

type View = { status: string; services: { service: string; state: string; health: string | null }[] };
const health = (v: View | null, s: string) => v?.services.find((x) => x.service === s)?.health;

async function sh(container: string, script: string): Promise<void> {
  const ex = await docker.getContainer(container).exec({ Cmd: ["sh", "-c", script], AttachStdout: true, AttachStderr: true });
  const stream = await ex.start({});
  await new Promise((r) => { stream.on("end", r); stream.resume(); });
}

describe("health from the dashboard's probes", () => {
  let events: { at: number; view: View | null }[] = [];
  let off: () => void = () => undefined;
  let promiseMs = 0;

  beforeAll(async () => {
    const r = await cli(["create", NAME, "--moodle", "fixture", "--php", "8.2", "--json"], env);
    if (r.code !== 0) throw new Error(`create failed (${r.code}): ${r.stderr}`);
    const ev = await import("../../services/events");
    const h = await import("../../instances/health");
    promiseMs = h.HEALTH_PROMISE_MS;
    // A failed probe reads "starting" in a container's first START_GRACE_S seconds: wait them out.
    const started = Math.max(...(await Promise.all(["db", "web"].map(async (s) => Date.parse((await docker.getContainer(`mdind-${NAME}-${s}`).inspect()).State.StartedAt)))));
    await new Promise((r) => setTimeout(r, Math.max(0, started + h.START_GRACE_S * 1000 + 1000 - Date.now())));
    ev.startStatusWatcher();
    off = ev.onStatus((s) => {
      if (s.instance === NAME) events.push({ at: Date.now(), view: s.view as View | null });
    });
  }, 600_000);
  afterAll(async () => {
    off();
    await cli(["remove", NAME, "--yes", "--json"], env);
    fs.rmSync(home, { recursive: true, force: true });
  });

  /** The first status event after `since` that satisfies `ok`, waiting at most the promise plus the coalescing slack twice over. */
  async function waitFor(since: number, ok: (v: View | null) => boolean, what: string): Promise<number> {
    const deadline = since + 2 * promiseMs;
    for (;;) {
      const hit = events.find((e) => e.at >= since && ok(e.view));
      if (hit) return hit.at - since;
      if (Date.now() > deadline) throw new Error(`${what}: no such status within ${2 * promiseMs} ms; last: ${JSON.stringify(events.at(-1)?.view?.services)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  }

  it("has no engine health check and reports db and web healthy from probes", async () => {
    for (const s of ["db", "app", "web", "cron"]) {
      const info = await docker.getContainer(`mdind-${NAME}-${s}`).inspect();
      expect(info.Config.Healthcheck?.Test, s).toEqual(["NONE"]);
      expect(info.State.Health, s).toBeUndefined();
    }
    const view = JSON.parse((await cli(["info", NAME, "--json"], env)).stdout) as View;
    expect(health(view, "db")).toBe("healthy");
    expect(health(view, "web")).toBe("healthy");
  });

  it("turns a frozen db and web unhealthy, then healthy again, as status events, with no exec", async () => {
    const since = Math.floor(Date.now() / 1000);
    events = [];
    const t0 = Date.now();
    // SIGSTOP every process but PID 1 (tini): the containers stay "running", the services hang.
    await sh(`mdind-${NAME}-db`, "kill -STOP -1");
    await sh(`mdind-${NAME}-web`, "kill -STOP -1");
    try {
      const down = await waitFor(t0, (v) => health(v, "db") === "unhealthy" && health(v, "web") === "unhealthy", "unhealthy");
      console.log(`health: unhealthy shown ${down} ms after the freeze (promise ${promiseMs} ms)`);
    } finally {
      await sh(`mdind-${NAME}-db`, "kill -CONT -1");
      await sh(`mdind-${NAME}-web`, "kill -CONT -1");
    }
    const t1 = Date.now();
    const up = await waitFor(t1, (v) => health(v, "db") === "healthy" && health(v, "web") === "healthy", "healthy");
    console.log(`health: healthy again ${up} ms after the thaw`);

    // Our own `sh` execs above are the only ones: no probe ran a process in a container.
    const until = Math.ceil(Date.now() / 1000);
    const stream = (await docker.getEvents({ since, until, filters: { type: ["container"], event: ["exec_start"], label: [`org.moodle-dind.instance=${NAME}`] } })) as NodeJS.ReadableStream;
    let raw = "";
    for await (const c of stream) raw += c.toString();
    const cmds = raw.split("\n").filter(Boolean).map((l) => (JSON.parse(l) as { Action: string }).Action);
    expect(cmds.length).toBe(4);
    for (const c of cmds) expect(c).toMatch(/^exec_start: sh -c kill -(STOP|CONT) -1$/);
  }, 120_000);

  it("shows a stopped and started service in status", async () => {
    events = [];
    const t0 = Date.now();
    await docker.getContainer(`mdind-${NAME}-web`).stop();
    await waitFor(t0, (v) => v?.status === "partial" && v.services.find((s) => s.service === "web")?.state === "exited", "web stopped");
    const t1 = Date.now();
    await docker.getContainer(`mdind-${NAME}-web`).start();
    await waitFor(t1, (v) => v?.status === "running" && health(v, "web") === "healthy", "web started and healthy");
  }, 120_000);
});
