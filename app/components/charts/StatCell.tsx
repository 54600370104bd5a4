import type { StatsSample } from "@/services/stats-ring";
import { Sparkline } from "./Sparkline";
import { formatMetric, seriesOf, type Metric } from "./series";

/** A list cell: the instance's sparkline and its latest value. */
export function StatCell({ samples, instance, metric }: { samples: StatsSample[]; instance: string; metric: Metric }) {
  const points = seriesOf(samples, instance, metric);
  const last = points[points.length - 1];
  const fresh = last && samples.length > 0 && last.t === samples[samples.length - 1].at;
  return (
    <div className="flex items-center justify-end gap-2">
      <Sparkline points={points} metric={metric} subject={instance} />
      <span className="w-20 text-right font-mono text-xs">{fresh ? formatMetric(metric, last.v) : "—"}</span>
    </div>
  );
}
