import type { StatsSample } from "@/services/stats-ring";
import { Sparkline } from "./Sparkline";
import { formatMetric, seriesOf, type Metric } from "./series";

/** A list cell: the instance's latest value over its sparkline (stacked, so the wide list keeps its width). */
export function StatCell({ samples, instance, metric }: { samples: StatsSample[]; instance: string; metric: Metric }) {
  const points = seriesOf(samples, instance, metric);
  const last = points[points.length - 1];
  const fresh = last && samples.length > 0 && last.t === samples[samples.length - 1].at;
  return (
    <div className="flex flex-col items-end gap-0.5">
      <span className="whitespace-nowrap font-mono text-xs">{fresh ? formatMetric(metric, last.v) : "—"}</span>
      <Sparkline points={points} metric={metric} width={72} height={18} subject={instance} />
    </div>
  );
}
