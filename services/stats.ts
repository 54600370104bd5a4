import { EventEmitter } from "node:events";
import { docker, LABEL, listManagedContainers } from "../lib/docker";
import { ratePerSec, StatsRing, type InstanceStats, type StatsSample } from "./stats-ring";

/**
 * CPU, memory and network for the dashboard's charts, sampled cheaply: one one-shot stats call per
 * running managed container every 10 s, and only while someone watches (an SSE client holds a
 * reference). one-shot stats return at once but without a previous sample, so CPU % and network
 * rates are computed from our own previous sample of the same container. Every sample also goes
 * into a 15-minute ring buffer, so a page opened later draws its history at once.
 */
export type { InstanceStats, ServiceStats, StatsSample } from "./stats-ring";

interface Sampler {
  emitter: EventEmitter;
  refs: number;
  timer: NodeJS.Timeout | null;
  running: boolean;
  prev: Map<string, Prev>;
  latest: Map<string, InstanceStats>;
  history: StatsRing;
}

interface Prev {
  cpu: number;
  system: number;
  rx: number;
  tx: number;
  at: number;
}

// MDIND_STATS_INTERVAL_MS lets a test see a few samples quickly; clamped so nobody polls the engine hard.
const INTERVAL_MS = Math.min(Math.max(Number(process.env.MDIND_STATS_INTERVAL_MS) || 10_000, 1000), 60_000);
const CONCURRENCY = 8;

const g = globalThis as unknown as { __mdindStats?: Sampler };
function sampler(): Sampler {
  g.__mdindStats ??= { emitter: new EventEmitter().setMaxListeners(0), refs: 0, timer: null, running: false, prev: new Map(), latest: new Map(), history: new StatsRing() };
  return g.__mdindStats;
}

interface RawStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats?: { usage?: number; limit?: number; stats?: { inactive_file?: number; cache?: number } };
  networks?: Record<string, { rx_bytes?: number; tx_bytes?: number }>;
}

function netTotals(raw: RawStats): { rx: number; tx: number } {
  let rx = 0;
  let tx = 0;
  for (const n of Object.values(raw.networks ?? {})) {
    rx += n.rx_bytes ?? 0;
    tx += n.tx_bytes ?? 0;
  }
  return { rx, tx };
}

/** CPU % between two samples, docker-cli style (100 % = one core). */
export function cpuPercent(prev: { cpu: number; system: number } | undefined, cur: { cpu: number; system: number }, cpus: number): number {
  if (!prev) return 0;
  const dc = cur.cpu - prev.cpu;
  const ds = cur.system - prev.system;
  if (dc <= 0 || ds <= 0) return 0;
  return Math.round((dc / ds) * cpus * 1000) / 10;
}

async function sampleOnce(): Promise<void> {
  const s = sampler();
  const list = await listManagedContainers({ running: true });
  const per = new Map<string, InstanceStats>();
  const seen = new Set<string>();
  let i = 0;
  const worker = async () => {
    while (i < list.length) {
      const c = list[i++];
      const inst = c.Labels?.[LABEL.instance];
      const svc = c.Labels?.[LABEL.service] ?? "?";
      if (!inst) continue;
      seen.add(c.Id);
      try {
        const raw = (await docker().getContainer(c.Id).stats({ stream: false, "one-shot": true } as never)) as unknown as RawStats;
        const now = Date.now();
        const net = netTotals(raw);
        const cur: Prev = { cpu: raw.cpu_stats?.cpu_usage?.total_usage ?? 0, system: raw.cpu_stats?.system_cpu_usage ?? 0, ...net, at: now };
        const before = s.prev.get(c.Id);
        const cpu = cpuPercent(before, cur, raw.cpu_stats?.online_cpus ?? 1);
        const secs = before ? (now - before.at) / 1000 : 0;
        const rxBps = ratePerSec(before?.rx, net.rx, secs);
        const txBps = ratePerSec(before?.tx, net.tx, secs);
        s.prev.set(c.Id, cur);
        const cache = raw.memory_stats?.stats?.inactive_file ?? raw.memory_stats?.stats?.cache ?? 0;
        const mem = Math.max(0, (raw.memory_stats?.usage ?? 0) - cache);
        const agg = per.get(inst) ?? { instance: inst, cpuPercent: 0, memBytes: 0, rxBps: 0, txBps: 0, memLimitBytes: raw.memory_stats?.limit ?? 0, services: {} };
        agg.cpuPercent = Math.round((agg.cpuPercent + cpu) * 10) / 10;
        agg.memBytes += mem;
        agg.rxBps += rxBps;
        agg.txBps += txBps;
        agg.services[svc] = { cpuPercent: cpu, memBytes: mem, rxBps, txBps };
        per.set(inst, agg);
      } catch {
        // The container stopped between list and stats; the next round drops it.
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  for (const id of s.prev.keys()) if (!seen.has(id)) s.prev.delete(id);
  s.latest = per;
  const sample: StatsSample = { at: Date.now(), instances: [...per.values()].sort((a, b) => a.instance.localeCompare(b.instance)) };
  s.history.push(sample);
  s.emitter.emit("stats", sample.instances, sample.at);
}

function tick() {
  const s = sampler();
  if (s.refs <= 0) {
    s.timer = null;
    return;
  }
  // A watcher arriving right after a sample (a page change) waits for the next round instead of
  // sampling again: the ring buffer keeps one point per interval.
  const wait = s.history.lastAt + INTERVAL_MS * 0.8 - Date.now();
  if (wait > 0) {
    s.timer = setTimeout(tick, wait);
    s.timer.unref();
    return;
  }
  if (!s.running) {
    s.running = true;
    sampleOnce()
      .catch(() => undefined)
      .finally(() => {
        s.running = false;
      });
  }
  s.timer = setTimeout(tick, INTERVAL_MS);
  s.timer.unref();
}

/** Hold a reference while a client watches; the returned function releases it. */
export function watchStats(listener: (stats: InstanceStats[], at: number) => void): () => void {
  const s = sampler();
  s.emitter.on("stats", listener);
  s.refs++;
  if (s.latest.size) listener([...s.latest.values()], s.history.lastAt);
  if (!s.timer) tick();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    s.emitter.off("stats", listener);
    s.refs--;
    if (s.refs <= 0 && s.timer) {
      clearTimeout(s.timer);
      s.timer = null;
    }
  };
}

export function latestStats(): InstanceStats[] {
  return [...sampler().latest.values()];
}

/** The last 15 minutes of samples, oldest first. */
export function statsHistory(): StatsSample[] {
  return sampler().history.samples();
}
