import { Sparkline, spanOf } from "./Sparkline";
import { formatMetric, METRIC_LABEL, type Metric, type Point } from "./series";

/** A larger chart with its title, latest value and the window's peak. */
export function MetricCard({ points, metric, subject }: { points: Point[]; metric: Metric; subject: string }) {
  const last = points[points.length - 1];
  const peak = points.reduce((m, p) => Math.max(m, p.v), 0);
  const span = spanOf(points);
  const minutes = Math.round((span.to - span.from) / 60_000);
  return (
    <figure className="card space-y-2 p-4" data-metric-card={metric}>
      <figcaption className="flex items-baseline justify-between text-sm">
        <span className="font-semibold">{METRIC_LABEL[metric]}</span>
        <span className="font-mono text-xs text-slate-600 dark:text-slate-300">
          {formatMetric(metric, last?.v)} <span className="text-slate-500 dark:text-slate-400">· peak {formatMetric(metric, peak)}</span>
        </span>
      </figcaption>
      <Sparkline points={points} metric={metric} width={360} height={72} subject={subject} fluid />
      <p className="flex justify-between text-[11px] text-slate-500 dark:text-slate-400"><span>{minutes} min ago</span><span>now</span></p>
    </figure>
  );
}
