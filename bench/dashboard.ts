/**
 * bench dashboard: with N instances, the server time of GET /api/v1/instances and of the list page
 * (/), and the lag from a docker event (docker stop/start of one instance's web container) to the
 * status event on the SSE stream /api/v1/events. Runs its own `tsx server.ts` on a free loopback
 * port with a throwaway data dir. BENCH_REAL instances are real fixture stacks; the rest are
 * records only (install:false would still start 4 containers each), which the list reads the same
 * way (records cached by mtime + one listContainers call).
 *
 *   BENCH_N=100 BENCH_REAL=1 npm run bench -- dashboard
 *   BENCH_PROD=1 …   measures the production server (needs `npm run build` first), as users run it
 */
import fs from "node:fs";
import path from "node:path";
import { ROOT, benchHome, cleanup, createWithRetry, envInt, header, onCleanup, quantile, sleep, table } from "./lib/common";
import { login, request, startServer, type Server } from "../tests/reliability/helpers";

const N = envInt("BENCH_N", 20, 1, 100);
const REAL = envInt("BENCH_REAL", 1, 1, Math.min(N, 100));
const SAMPLES = envInt("BENCH_SAMPLES", 20, 5, 200);
const ROUNDS = envInt("BENCH_EVENT_ROUNDS", 3, 1, 10);
const PROD = process.env.BENCH_PROD === "1";
const MODE = PROD ? "production server (next build)" : "next dev server";
const home = benchHome("dashboard");
const sfx = process.pid.toString(36).slice(-3);
const log = (s: string) => process.stderr.write(`[dashboard ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

async function timed(fn: () => Promise<{ status: number }>, n: number): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const r = await fn();
    if (r.status !== 200) throw new Error(`status ${r.status}`);
    out.push(performance.now() - t0);
  }
  return out;
}

/** Read the SSE stream, calling `on` for every `status` event with its arrival time. */
async function sse(base: string, token: string, on: (data: { instance: string; view: { services: { service: string; state: string }[] } | null }, at: number) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(`${base}/api/v1/events`, { headers: { authorization: `Bearer ${token}` }, signal });
  if (!res.ok || !res.body) throw new Error(`events: ${res.status}`);
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  void (async () => {
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        const at = Date.now();
        buf += value;
        let i: number;
        while ((i = buf.indexOf("\n\n")) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const ev = /^event: (.*)$/m.exec(block)?.[1];
          const data = block.split("\n").filter((l) => l.startsWith("data: ")).map((l) => l.slice(6)).join("\n");
          if (ev === "status" && data) on(JSON.parse(data), at);
        }
      }
    } catch {
      /* aborted at the end */
    }
  })();
}

async function main() {
  const { ping, docker } = await import("../lib/docker");
  const { removeInstance } = await import("../instances/lifecycle");
  const { parseCreateInput, resolveSpec } = await import("../instances/spec");
  const { writeRecord, makeSkeleton, removeFolder } = await import("../instances/store");
  const { containerName } = await import("../instances/stack");
  await ping();
  const real = Array.from({ length: REAL }, (_, i) => `r${i + 1}-${sfx}`);
  const fake = Array.from({ length: N - REAL }, (_, i) => `f${i + 1}-${sfx}`);
  let server: Server | null = null;
  onCleanup(async () => {
    await server?.stop();
    for (const n of real) await removeInstance(n).catch(() => undefined);
    for (const n of fake) await removeFolder(n).catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  });

  log(`creating ${REAL} real fixture instance(s) and ${fake.length} record-only ones`);
  for (const n of real) await createWithRetry({ name: n, moodle: "fixture", template: false });
  for (const [i, n] of fake.entries()) {
    const spec = resolveSpec(parseCreateInput({ name: n, moodle: "fixture", install: false }), "fixture");
    await makeSkeleton(n, { config: [], logs: [] });
    await writeRecord({
      name: n, spec, n: 150 + i, port: 9000 + i, subnet: `172.20.${150 + i}.0/24`, url: `http://127.0.0.1:${9000 + i}/`,
      state: "ready", createdAt: new Date().toISOString(), shared: false,
      source: { branch: "fixture", release: "fixture", publicDir: true, origin: "fixture" },
    });
  }

  if (PROD && !fs.existsSync(path.join(ROOT, ".next", "BUILD_ID"))) throw new Error("BENCH_PROD=1 needs a production build: run `npm run build` first");
  log(`starting the dashboard: ${MODE}`);
  server = await startServer(PROD ? { NODE_ENV: "production" } : {}, home);
  const s = server;
  const { cookie } = await login(s.base, s.password);
  const api = () => s.api("GET", "/api/v1/instances");
  const page = () => request(s.base, "GET", "/", undefined, { cookie });
  // First hits compile the route and page in dev mode (and warm the production server): not what is measured.
  for (let i = 0; i < 3; i++) {
    await api();
    await page();
  }
  const list = await api();
  const count = Array.isArray(list.json) ? list.json.length : (list.json as { instances?: unknown[] })?.instances?.length;
  log(`list returns ${count} instances`);
  const apiMs = await timed(api, SAMPLES);
  const pageMs = await timed(page, SAMPLES);

  // Lag from the engine's event to the SSE status event, for a stop and a start of one web container.
  const target = real[0];
  const web = containerName(target, "web");
  const ctl = new AbortController();
  const waiters: { want: string; resolve: (at: number) => void }[] = [];
  await sse(s.base, s.token, (d, at) => {
    if (d.instance !== target || !d.view) return;
    const state = d.view.services.find((x) => x.service === "web")?.state;
    for (const w of waiters.splice(0).filter((w) => (w.want === state ? (w.resolve(at), false) : true))) waiters.push(w);
  }, ctl.signal);
  await sleep(1000);
  const events = (await docker().getEvents({ filters: { container: [web], type: ["container"], event: ["die", "start"] } })) as NodeJS.ReadableStream;
  const engineAt: Record<string, number[]> = { die: [], start: [] };
  let ebuf = "";
  events.on("data", (d: Buffer) => {
    ebuf += d.toString();
    let i: number;
    while ((i = ebuf.indexOf("\n")) >= 0) {
      const line = ebuf.slice(0, i);
      ebuf = ebuf.slice(i + 1);
      if (!line.trim()) continue;
      const e = JSON.parse(line) as { Action: string; timeNano: number };
      engineAt[e.Action]?.push(Math.round(e.timeNano / 1e6));
    }
  });
  const lag: { stop: number[]; start: number[] } = { stop: [], start: [] };
  const waitState = (want: string) => new Promise<number>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no SSE status with web ${want} within 30 s`)), 30_000);
    waiters.push({ want, resolve: (at) => (clearTimeout(t), resolve(at)) });
  });
  for (let r = 0; r < ROUNDS; r++) {
    const exited = waitState("exited");
    await docker().getContainer(web).stop({ t: 2 });
    const atStop = await exited;
    await sleep(300);
    lag.stop.push(atStop - engineAt.die[engineAt.die.length - 1]);
    const running = waitState("running");
    await docker().getContainer(web).start();
    const atStart = await running;
    await sleep(300);
    lag.start.push(atStart - engineAt.start[engineAt.start.length - 1]);
    await sleep(1000);
  }
  (events as unknown as { destroy?: () => void }).destroy?.();
  ctl.abort();

  const row = (label: string, xs: number[]) => [label, quantile(xs, 0.5).toFixed(1), quantile(xs, 0.95).toFixed(1), Math.max(...xs).toFixed(1)];
  const apiMed = quantile(apiMs, 0.5);
  const pageMed = quantile(pageMs, 0.5);
  const lagMax = Math.max(...lag.stop, ...lag.start);
  console.log([
    header("dashboard", `${N} instances (${REAL} real, ${N - REAL} record-only), ${SAMPLES} requests each, ${ROUNDS} stop/start rounds, ${MODE}`),
    "",
    table([
      ["", "p50 ms", "p95 ms", "max ms"],
      row("GET /api/v1/instances", apiMs),
      row("GET / (list page, SSR)", pageMs),
      row("docker die → SSE status", lag.stop),
      row("docker start → SSE status", lag.start),
    ]),
    "",
    `list API ${apiMed.toFixed(1)} ms (target ≤ 100 ms): ${apiMed <= 100 ? "met" : "MISSED"}; list page ${pageMed.toFixed(1)} ms (target ≤ 100 ms): ${pageMed <= 100 ? "met" : "MISSED"}`,
    `status lag worst ${lagMax} ms (target ≤ 1000 ms): ${lagMax <= 1000 ? "met" : "MISSED"}`,
    `times are wall clock on 127.0.0.1 (loopback adds well under 1 ms), ${MODE}`,
  ].join("\n"));
}

main()
  .then(cleanup, async (e) => {
    console.error(e);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => process.exit());
