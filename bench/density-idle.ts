/**
 * bench density-idle: the idle half of bench density, over instances that already run in a data
 * dir (BENCH_HOME): memory per instance and service, CPU over a window with a dashboard watching,
 * engine CPU and execs. For a density run whose start phase outlived a loaded machine: the figures
 * are the same, taken from the instances it left. The stock instance is named by BENCH_STOCK.
 *
 *   BENCH_HOME=/tmp/x BENCH_STOCK=dstock-abc BENCH_IDLE_SECONDS=120 npm run bench -- density-idle
 */
import { countExecs, engineCpuTicks, envInt, header, mib, sampleContainers, sleep, table } from "./lib/common";

const IDLE_S = envInt("BENCH_IDLE_SECONDS", 120, 10, 600);
const stock = process.env.BENCH_STOCK ?? "";

async function main() {
  if (!process.env.BENCH_HOME) throw new Error("BENCH_HOME names the data dir whose instances to measure");
  process.env.MDIND_HOME = process.env.BENCH_HOME;
  const { onStatus, startStatusWatcher } = await import("../services/events");
  startStatusWatcher();
  const unwatch = onStatus(() => undefined);
  const s0 = await sampleContainers();
  const e0 = engineCpuTicks();
  const p0 = process.cpuUsage();
  const w0 = Math.floor(Date.now() / 1000);
  await sleep(IDLE_S * 1000);
  const w1 = Math.floor(Date.now() / 1000);
  const p1 = process.cpuUsage(p0);
  const e1 = engineCpuTicks();
  unwatch();
  const s1 = await sampleContainers();
  const execs = await countExecs(w0, w1);
  const before = new Map(s0.map((s) => [s.id, s]));
  const inst: Record<string, { mem: Record<string, number>; cpu: Record<string, number> }> = {};
  for (const s of s1) {
    const p = before.get(s.id);
    const e = (inst[s.instance] ??= { mem: {}, cpu: {} });
    e.mem[s.service] = s.memBytes;
    e.cpu[s.service] = p ? s.cpuNs - p.cpuNs : 0;
  }
  const pct = (ns: number) => (ns / (IDLE_S * 1e9)) * 100;
  const sum = (r: Record<string, number>) => Object.values(r).reduce((a, b) => a + b, 0);
  const svcs = ["db", "app", "web", "cron"];
  const ours = Object.keys(inst).filter((n) => n !== stock).sort();
  const rows: (string | number)[][] = [["instance", ...svcs.map((s) => `${s} MiB`), "total MiB", ...svcs.map((s) => `${s} CPU %`), "CPU %", "execs"]];
  for (const n of [...ours, stock].filter((n) => inst[n])) {
    const e = inst[n];
    rows.push([n === stock ? `${n} (stock)` : n, ...svcs.map((s) => mib(e.mem[s] ?? 0)), mib(sum(e.mem)), ...svcs.map((s) => pct(e.cpu[s] ?? 0).toFixed(3)), pct(sum(e.cpu)).toFixed(3), execs.get(n) ?? 0]);
  }
  const avg = (f: (n: string) => number) => ours.reduce((a, n) => a + f(n), 0) / Math.max(ours.length, 1);
  rows.push(["ours average", ...svcs.map((s) => mib(avg((n) => inst[n].mem[s] ?? 0))), mib(avg((n) => sum(inst[n].mem))), ...svcs.map((s) => avg((n) => pct(inst[n].cpu[s] ?? 0)).toFixed(3)), avg((n) => pct(sum(inst[n].cpu))).toFixed(3), avg((n) => execs.get(n) ?? 0).toFixed(1)]);
  const oursCpu = avg((n) => pct(sum(inst[n].cpu)));
  const stockCpu = inst[stock] ? pct(sum(inst[stock].cpu)) : NaN;
  const oursMem = avg((n) => sum(inst[n].mem));
  console.log([
    header("density-idle", `${ours.length} instances + ${inst[stock] ? 1 : 0} stock already running, idle window ${IDLE_S} s, a dashboard watching`),
    "",
    table(rows),
    "",
    `idle CPU per instance: ours ${oursCpu.toFixed(3)} % of one core, stock ${stockCpu.toFixed(3)} % → ${(stockCpu / oursCpu).toFixed(2)}× less; target ≤ 0.3 %: ${oursCpu <= 0.3 ? "met" : "MISSED"}`,
    `idle memory per instance: ours ${mib(oursMem)} MiB, stock ${inst[stock] ? mib(sum(inst[stock].mem)) : "?"} MiB; target ≤ 75 MiB: ${oursMem / 1048576 <= 75 ? "met" : "MISSED"}`,
    `engine CPU (dockerd, containerd, shims) over the window: ${(((e1 - e0) / 100 / IDLE_S) * 100).toFixed(2)} % of one core for everything on this engine (other data dirs included)`,
    `dashboard process (watching, probes every 10 s): ${(((p1.user + p1.system) / 1e6 / IDLE_S) * 100).toFixed(2)} % of one core`,
  ].join("\n"));
}

main().then(() => process.exit(0), (e) => { console.error(e); process.exit(1); });
