import { formatMetric, METRIC_LABEL, type Metric, type Point } from "./series";

const WINDOW_MS = 15 * 60_000;
const MIN_SPAN_MS = 2 * 60_000;

/**
 * The time the chart spans: the last 15 minutes, or less while the history is younger (at least
 * 2 minutes), so the first minutes after a start fill the box instead of a dot at its right edge.
 */
export function spanOf(points: Point[]): { from: number; to: number } {
  const to = points.length ? points[points.length - 1].t : 0;
  const first = points.find((p) => p.t >= to - WINDOW_MS)?.t ?? to;
  return { from: Math.min(first, to - MIN_SPAN_MS), to };
}
const STROKE: Record<Metric, string> = { cpu: "text-indigo-600 dark:text-indigo-400", mem: "text-emerald-600 dark:text-emerald-400", net: "text-amber-600 dark:text-amber-400" };

/**
 * A plain-SVG line over the last 15 minutes (spanOf), right edge = the newest sample. A gap longer than
 * three intervals (nobody watched, the instance was stopped) breaks the line instead of bridging it.
 */
export function Sparkline({ points, metric, width = 96, height = 24, subject, fluid = false }: { points: Point[]; metric: Metric; width?: number; height?: number; subject: string; fluid?: boolean }) {
  const { from, to } = spanOf(points);
  const shown = points.filter((p) => p.t >= from);
  const peak = shown.reduce((m, p) => Math.max(m, p.v), 0);
  // CPU keeps at least a 5 % scale so idle noise does not fill the box.
  const max = Math.max(peak, metric === "cpu" ? 5 : 1) * 1.1;
  const x = (t: number) => ((t - from) / (to - from)) * width;
  const y = (v: number) => height - 1 - (v / max) * (height - 2);
  const steps = shown.slice(1).map((p, i) => p.t - shown[i].t).sort((a, b) => a - b);
  const gap = 3 * (steps[Math.floor(steps.length / 2)] ?? 10_000);
  let d = "";
  shown.forEach((p, i) => {
    const jump = i === 0 || p.t - shown[i - 1].t > gap;
    d += `${jump ? "M" : "L"}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)} `;
  });
  const last = shown[shown.length - 1];
  const label = shown.length
    ? `${METRIC_LABEL[metric]} of ${subject}, last 15 minutes: now ${formatMetric(metric, last.v)}, peak ${formatMetric(metric, peak)}`
    : `${METRIC_LABEL[metric]} of ${subject}: no samples yet`;
  return (
    <svg
      role="img"
      aria-label={label}
      width={fluid ? "100%" : width}
      height={height}
      viewBox={`0 0 ${width} ${height}`}
      // Fluid charts stretch to their card; strokes keep their width (non-scaling-stroke) below.
      preserveAspectRatio={fluid ? "none" : undefined}
      className={`shrink-0 overflow-visible ${STROKE[metric]}`}
      data-chart={metric}
      data-points={shown.length}
    >
      <line x1={0} x2={width} y1={height - 0.5} y2={height - 0.5} className="stroke-slate-200 dark:stroke-slate-700" strokeWidth={1} />
      {d && <path d={d.trim()} fill="none" stroke="currentColor" strokeWidth={1.5} strokeLinejoin="round" strokeLinecap="round" vectorEffect="non-scaling-stroke" />}
      {last && !fluid && <circle cx={x(last.t)} cy={y(last.v)} r={2} fill="currentColor" />}
    </svg>
  );
}
