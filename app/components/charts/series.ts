import type { ServiceStats, StatsSample } from "@/services/stats-ring";

/** One chartable value of a sample. Network is receive + transmit. */
export type Metric = "cpu" | "mem" | "net";

export interface Point {
  t: number;
  v: number;
}

function pick(s: ServiceStats, metric: Metric): number {
  if (metric === "cpu") return s.cpuPercent;
  if (metric === "mem") return s.memBytes;
  return s.rxBps + s.txBps;
}

/** An instance's (or one of its services') values over time; samples where it did not run are left out. */
export function seriesOf(samples: StatsSample[], instance: string, metric: Metric, service?: string): Point[] {
  const out: Point[] = [];
  for (const s of samples) {
    const i = s.instances.find((x) => x.instance === instance);
    const v = i && (service ? i.services[service] : i);
    if (v) out.push({ t: s.at, v: pick(v, metric) });
  }
  return out;
}

/** Every instance summed: the host's share used by Moodle sites. */
export function totalsOf(samples: StatsSample[], metric: Metric): Point[] {
  return samples.map((s) => ({ t: s.at, v: s.instances.reduce((sum, i) => sum + pick(i, metric), 0) }));
}

/** Service names seen in the window, in first-seen order. */
export function servicesOf(samples: StatsSample[], instance: string): string[] {
  const seen = new Set<string>();
  for (const s of samples) for (const name of Object.keys(s.instances.find((x) => x.instance === instance)?.services ?? {})) seen.add(name);
  return [...seen];
}

export function formatMetric(metric: Metric, v: number | undefined): string {
  if (v === undefined) return "—";
  if (metric === "cpu") return `${v.toFixed(1)} %`;
  const units = ["B", "KB", "MB", "GB", "TB"];
  let n = v;
  let u = 0;
  while (n >= 1024 && u < units.length - 1) {
    n /= 1024;
    u++;
  }
  const text = `${n >= 100 || u === 0 ? n.toFixed(0) : n.toFixed(1)} ${units[u]}`;
  return metric === "net" ? `${text}/s` : text;
}

export const METRIC_LABEL: Record<Metric, string> = { cpu: "CPU", mem: "Memory", net: "Network" };
