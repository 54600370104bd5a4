"use client";

import { MetricCard } from "./MetricCard";
import { totalsOf } from "./series";
import { useStatsHistory } from "./useStatsHistory";

/** The Host page's totals: every instance's containers summed, over the last 15 minutes. */
export default function HostCharts() {
  const samples = useStatsHistory();
  const count = samples.length ? samples[samples.length - 1].instances.length : 0;
  return (
    <section className="space-y-2" aria-labelledby="host-charts-title" data-testid="host-charts">
      <h2 id="host-charts-title" className="font-semibold">
        All instances <span className="text-sm font-normal text-slate-500 dark:text-slate-400">({count} running, last 15 minutes, sampled every 10 s)</span>
      </h2>
      <div className="grid gap-4 md:grid-cols-3">
        <MetricCard points={totalsOf(samples, "cpu")} metric="cpu" subject="all instances" />
        <MetricCard points={totalsOf(samples, "mem")} metric="mem" subject="all instances" />
        <MetricCard points={totalsOf(samples, "net")} metric="net" subject="all instances" />
      </div>
    </section>
  );
}
