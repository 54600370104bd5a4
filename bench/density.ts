/**
 * bench density: how many instances fit. Starts K instances (BENCH_K, default 10; 100 is the whole
 * port range), loads each page once, waits for idle, then reports memory per instance and service,
 * host and per-instance CPU at idle over a window (cron included), the time to start all K and the
 * time until all K answer 200. A "stock" instance runs beside them in the same run: Debian's
 * php-fpm pool (dynamic, 5 children), stock PHP/OPcache and PostgreSQL buffers, and a resident PHP
 * cron loop, written into its config folder the way a user would edit it, and the engine health
 * checks every instance had before issue #18 (a `docker exec` per container every 30 s). Ours have
 * none: during the idle window a dashboard watches (the health probe loop of services/events.ts
 * runs, as with an open browser), so its probes are in the figures. The engine's own CPU (dockerd,
 * containerd, shims: where an exec costs most) and the execs per instance are counted too.
 *
 *   BENCH_K=10 BENCH_IDLE_SECONDS=120 npm run bench -- density
 *   MOODLE_SOURCE=/path/to/moodle …     (real Moodle instead of the fixture app)
 *   BENCH_RESTART=0                     (keep the created instances running: no start-time phase)
 */
import fs from "node:fs";
import path from "node:path";
import {
  benchHome, cleanup, countExecs, createWithRetry, engineCpuTicks, envInt, header, mib, onCleanup, pool, probe, procStat, sampleContainers, sleep, table, until200,
  type ContainerSample,
} from "./lib/common";
import { FPM_IDLE_TIMEOUT_S } from "../instances/render";
import { STOCK_CRON_CMD, STOCK_FPM, STOCK_PHP_INI, stockHealthcheck, stockPostgres, swapConfig } from "./lib/stock";

const K = envInt("BENCH_K", 10, 1, 100);
const IDLE_S = envInt("BENCH_IDLE_SECONDS", 120, 10, 600);
// php-fpm ondemand workers exit after FPM_IDLE_TIMEOUT_S (120 s) idle: settle past that.
// With real Moodle, a template child nobody signed in to is idle from its start, and its first cron
// run (the heaviest: caches filled) comes somewhere in its first idle_minutes (cron.conf, default
// 30). BENCH_SETTLE_SECONDS=1800 measures idle sites after those first runs.
const SETTLE_S = envInt("BENCH_SETTLE_SECONDS", FPM_IDLE_TIMEOUT_S + 30, 25, 3600);
const CREATE_C = envInt("BENCH_CREATE_CONCURRENCY", 2, 1, 8);
const START_C = envInt("BENCH_START_CONCURRENCY", 4, 1, 16);
// BENCH_RESTART=0 skips the stop-all/start-all phase (start time): at K = 100 real sites on 2 cores
// it takes about 35 minutes, and the idle figures do not depend on it.
const RESTART = process.env.BENCH_RESTART !== "0";
const home = benchHome("density");
// The stock instance is one more than the port range holds at K = 100: give it the next port.
if (K >= 100 && !process.env.MDIND_PORT_RANGE) process.env.MDIND_PORT_RANGE = "8000-8100";
const moodle = process.env.MOODLE_SOURCE ? "5.1" : "fixture";
const page = moodle === "fixture" ? "/" : "/login/index.php";
const sfx = process.pid.toString(36).slice(-3);
const names = Array.from({ length: K }, (_, i) => `d${i + 1}-${sfx}`);
const stockName = `dstock-${sfx}`;
/** Stock per-container idle memory after light use, from ../shared/docs/moodle-facts.md. */
const FACTS = { db: 26, app: 56, web: 3, cronLo: 16, cronHi: 26 };

const log = (s: string) => process.stderr.write(`[density ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

type PerInstance = Record<string, Record<string, number>>;
function byInstance(samples: ContainerSample[]): PerInstance {
  const out: PerInstance = {};
  for (const s of samples) (out[s.instance] ??= {})[s.service] = s.memBytes;
  return out;
}
const total = (svc: Record<string, number> | undefined) => Object.values(svc ?? {}).reduce((a, b) => a + b, 0);
const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(xs.length, 1);

async function makeStock(name: string) {
  const { containerSpecs, containerName } = await import("../instances/stack");
  const { readRecord } = await import("../instances/store");
  const { docker } = await import("../lib/docker");
  await createWithRetry({ name, moodle });
  await swapConfig(name, [
    { service: "php", file: "fpm.conf", content: () => STOCK_FPM },
    { service: "php", file: "php.ini", content: () => STOCK_PHP_INI },
    { service: "postgres", file: "postgresql.conf", content: stockPostgres },
  ]);
  // Health checks and the cron command are not config files: recreate the containers with the
  // old exec checks and a resident PHP cron loop, in start order.
  const rec = await readRecord(name);
  const specs = containerSpecs({ spec: rec.spec, n: rec.n, port: rec.port });
  for (const svc of ["db", "app", "web", "cron"] as const) {
    await docker().getContainer(containerName(name, svc)).remove({ force: true });
    const extra = svc === "cron" ? { Cmd: STOCK_CRON_CMD } : {};
    await docker().createContainer({ ...specs[svc], ...extra, Healthcheck: stockHealthcheck(svc, rec.spec, rec.port) });
    await docker().getContainer(containerName(name, svc)).start();
  }
}

async function main() {
  const { ping } = await import("../lib/docker");
  const { removeInstance, startInstance, stopInstance } = await import("../instances/lifecycle");
  const { readRecord, logsDir } = await import("../instances/store");
  const { cronState } = await import("../instances/cron");
  await ping();
  const made: string[] = [];
  onCleanup(async () => {
    log(`removing ${made.length} instances`);
    await pool([...made], 4, (n) => removeInstance(n).catch(() => undefined));
    if (!process.env.BENCH_HOME) fs.rmSync(home, { recursive: true, force: true });
  });

  log(`creating ${K} ${moodle} instances, ${CREATE_C} at a time`);
  const tc0 = Date.now();
  await pool(names, CREATE_C, async (n) => {
    made.push(n);
    await createWithRetry({ name: n, moodle });
    log(`created ${n}`);
  });
  const createS = (Date.now() - tc0) / 1000;
  const ports = new Map<string, number>();
  for (const n of names) ports.set(n, (await readRecord(n)).port);

  let startLine = `start: not measured (BENCH_RESTART=0): the ${K} created instances were kept running`;
  if (RESTART) {
    log("stopping all, then starting all");
    await pool(names, 8, (n) => stopInstance(n));
    const ts0 = Date.now();
    let lastStarted = 0;
    let last200 = 0;
    await pool(names, START_C, async (n) => {
      await startInstance(n);
      lastStarted = Math.max(lastStarted, Date.now());
      // The first page load is also the instance's light use.
      last200 = Math.max(last200, await until200(ports.get(n)!, page, Date.now() + 600_000));
    });
    startLine = `start: ${K} stopped instances started in ${((lastStarted - ts0) / 1000).toFixed(1)} s (${START_C} at a time), all answering 200 on ${page} after ${((last200 - ts0) / 1000).toFixed(1)} s`;
  } else {
    await pool(names, START_C, (n) => until200(ports.get(n)!, page, Date.now() + 600_000));
  }

  log(`creating the stock instance ${stockName}`);
  made.push(stockName);
  await makeStock(stockName);
  const stockPort = (await readRecord(stockName)).port;
  await until200(stockPort, page, Date.now() + 600_000);
  // Light use of every instance, then the hot sample while ondemand workers are still up.
  for (const n of [...names, stockName]) await probe(n === stockName ? stockPort : ports.get(n)!, page);
  const hot = byInstance(await sampleContainers());

  log(`settling ${SETTLE_S} s (fpm idle timeout ${FPM_IDLE_TIMEOUT_S} s)`);
  await sleep(SETTLE_S * 1000);
  const idleSamples = await sampleContainers();
  const idle = byInstance(idleSamples);

  log(`measuring CPU at idle over ${IDLE_S} s, a dashboard watching`);
  const { onStatus, startStatusWatcher } = await import("../services/events");
  startStatusWatcher();
  const unwatch = onStatus(() => undefined);
  const c0 = new Map(idleSamples.map((s) => [s.id, s]));
  const h0 = procStat();
  const e0 = engineCpuTicks();
  const p0 = process.cpuUsage();
  const w0 = Math.floor(Date.now() / 1000);
  await sleep(IDLE_S * 1000);
  const w1 = Math.floor(Date.now() / 1000);
  const p1 = process.cpuUsage(p0);
  const e1 = engineCpuTicks();
  const h1 = procStat();
  unwatch();
  const c1 = await sampleContainers();
  const execs = await countExecs(w0, w1);
  const cpuByInst: Record<string, number> = {};
  const cpuBySvc: Record<string, number> = {};
  for (const s of c1) {
    const p = c0.get(s.id);
    if (!p) continue;
    cpuByInst[s.instance] = (cpuByInst[s.instance] ?? 0) + (s.cpuNs - p.cpuNs);
    if (names.includes(s.instance)) cpuBySvc[s.service] = (cpuBySvc[s.service] ?? 0) + (s.cpuNs - p.cpuNs);
  }
  const pctCore = (ns: number) => (ns / (IDLE_S * 1e9)) * 100;
  const hostBusy = ((h1.busy - h0.busy) / Math.max(h1.total - h0.total, 1)) * 100;

  // Cron stagger: the second of the minute each instance's last cron run started.
  const cronSecs: number[] = [];
  for (const n of names) {
    const rec = await readRecord(n);
    try {
      const j = JSON.parse(fs.readFileSync(path.join(logsDir(n, "cron", rec.spec.php), "last-run.json"), "utf8")) as { start: string };
      cronSecs.push(new Date(j.start).getUTCSeconds());
    } catch {
      /* no run yet: counted below */
    }
  }
  // What each instance's cron loop decided at its last tick (cadence.json): idle, or every minute.
  const cadences = new Map<string, number>();
  for (const n of names) {
    const c = (await cronState(n, (await readRecord(n)).spec.php)).cadence?.cadence ?? "unknown";
    cadences.set(c, (cadences.get(c) ?? 0) + 1);
  }
  const perSecond = new Map<number, number>();
  for (const s of cronSecs) perSecond.set(s, (perSecond.get(s) ?? 0) + 1);

  // ---- report
  const svcs = ["db", "app", "web", "cron"];
  const rows: (string | number)[][] = [["instance", ...svcs.map((s) => `${s} MiB`), "total MiB", "hot MiB", "idle CPU %"]];
  for (const n of [...names, stockName]) {
    rows.push([n === stockName ? `${n} (stock)` : n, ...svcs.map((s) => mib(idle[n]?.[s] ?? 0)), mib(total(idle[n])), mib(total(hot[n])), pctCore(cpuByInst[n] ?? 0).toFixed(2)]);
  }
  const tunedTotals = names.map((n) => total(idle[n]));
  const tunedAvg = avg(tunedTotals);
  const stockTotal = total(idle[stockName]);
  const svcAvg = (s: string) => avg(names.map((n) => idle[n]?.[s] ?? 0));
  rows.push(["tuned average", ...svcs.map((s) => mib(svcAvg(s))), mib(tunedAvg), mib(avg(names.map((n) => total(hot[n])))), avg(names.map((n) => pctCore(cpuByInst[n] ?? 0))).toFixed(2)]);
  const factsLo = FACTS.db + FACTS.app + FACTS.web + FACTS.cronLo;
  const factsHi = FACTS.db + FACTS.app + FACTS.web + FACTS.cronHi;
  const tunedCpuAll = names.reduce((a, n) => a + (cpuByInst[n] ?? 0), 0);

  const out = [
    header("density", `${K} ${moodle === "fixture" ? "fixture-app" : "Moodle"} instances + 1 stock, settle ${SETTLE_S} s, idle window ${IDLE_S} s`),
    "",
    "memory after idle (docker stats working set), CPU % of one core over the idle window:",
    table(rows),
    "",
    `idle memory per instance: tuned ${mib(tunedAvg)} MiB (max ${mib(Math.max(...tunedTotals))}), stock in this run ${mib(stockTotal)} MiB → ${(stockTotal / tunedAvg).toFixed(2)}× less with our settings`,
    `  against the hand-made stock stack of moodle-facts.md (${factsLo}–${factsHi} MiB: db ${FACTS.db}, php-fpm ${FACTS.app}, nginx ${FACTS.web}, cron ${FACTS.cronLo}–${FACTS.cronHi}): ${(factsLo / (tunedAvg / 1048576)).toFixed(2)}–${(factsHi / (tunedAvg / 1048576)).toFixed(2)}× less`,
    `  target ≤ 75 MiB: ${tunedAvg / 1048576 <= 75 ? "met" : "MISSED"}; per-service ratios stock/tuned: ${svcs.map((s) => `${s} ${((idle[stockName]?.[s] ?? 0) / Math.max(svcAvg(s), 1)).toFixed(2)}×`).join(", ")}`,
    `  all ${K} tuned instances together: ${mib(tunedTotals.reduce((a, b) => a + b, 0))} MiB`,
    `CPU at idle over ${IDLE_S} s: all ${K} tuned instances ${pctCore(tunedCpuAll).toFixed(2)} % of one core (${(pctCore(tunedCpuAll) / K).toFixed(3)} % each), stock instance ${pctCore(cpuByInst[stockName] ?? 0).toFixed(3)} %`,
    `  where it goes (tuned, per instance): ${Object.entries(cpuBySvc).map(([k, v]) => `${k} ${(pctCore(v) / K).toFixed(3)} %`).join(", ")} (no engine health checks; cron cadence at the end: ${[...cadences].map(([k, v]) => `${v} ${k}`).join(", ")})`,
    `  ratio stock/tuned idle CPU per instance: ${((cpuByInst[stockName] ?? 0) / Math.max(tunedCpuAll / K, 1)).toFixed(2)}×; target ≤ 0.3 % per instance: ${pctCore(tunedCpuAll) / K <= 0.3 ? "met" : "MISSED"}`,
    `engine execs over the window: tuned ${names.reduce((a, n) => a + (execs.get(n) ?? 0), 0)} for all ${K}, stock ${execs.get(stockName) ?? 0} (its 4 health checks every 30 s)`,
    `engine CPU (dockerd, containerd, shims) over the window: ${(((e1 - e0) / 100 / IDLE_S) * 100).toFixed(2)} % of one core for all ${K + 1} instances (execs and the dashboard's event stream; not in the container figures above)`,
    `dashboard health probes (watching all ${K}, every ${(await import("../instances/health")).WATCH_INTERVAL_MS / 1000} s): this process used ${(((p1.user + p1.system) / 1e6 / IDLE_S) * 100).toFixed(2)} % of one core (bench process, probes included)`,
    `  host-wide busy ${hostBusy.toFixed(1)} % of ${(await import("node:os")).cpus().length} cores (the whole shared machine, other work included)`,
    startLine,
    `create: ${K} instances created in ${createS.toFixed(1)} s (${CREATE_C} at a time; the first makes the template)`,
    `cron stagger: ${cronSecs.length}/${K} instances have run cron; busiest second of the minute has ${Math.max(0, ...perSecond.values())} start(s) across ${perSecond.size} distinct seconds`,
  ];
  console.log(out.join("\n"));
}

main()
  .then(cleanup, async (e) => {
    console.error(e);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => process.exit());
