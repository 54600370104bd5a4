"use client";

import { Sparkline } from "./Sparkline";
import { formatMetric, seriesOf, servicesOf, type Metric } from "./series";
import { useStatsHistory } from "./useStatsHistory";

const METRICS: Metric[] = ["cpu", "mem", "net"];

/** Per service of one instance: CPU, memory and network over the last 15 minutes. */
export default function ServiceCharts({ instance }: { instance: string }) {
  const samples = useStatsHistory();
  const services = servicesOf(samples, instance);
  return (
    <section className="card overflow-x-auto" aria-labelledby="service-charts-title" data-testid="service-charts">
      <h2 id="service-charts-title" className="px-4 pt-4 font-semibold">Usage per service <span className="text-sm font-normal text-slate-500 dark:text-slate-400">(last 15 minutes)</span></h2>
      {services.length === 0 ? (
        <p className="p-4 text-sm text-slate-500 dark:text-slate-400">No samples yet: the first arrives within 10 seconds while the instance runs.</p>
      ) : (
        <table className="mt-2 w-full text-sm">
          <thead className="text-left text-xs uppercase text-slate-500 dark:text-slate-400">
            <tr>
              <th className="px-4 py-2">Service</th>
              <th className="px-4 py-2 text-right">CPU</th>
              <th className="px-4 py-2 text-right">Memory</th>
              <th className="px-4 py-2 text-right">Network</th>
            </tr>
          </thead>
          <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
            {services.map((svc) => (
              <tr key={svc} data-service-chart={svc}>
                <td className="px-4 py-2 font-mono text-xs">{svc}</td>
                {METRICS.map((m) => {
                  const points = seriesOf(samples, instance, m, svc);
                  return (
                    <td key={m} className="px-4 py-2">
                      <div className="flex items-center justify-end gap-2">
                        <Sparkline points={points} metric={m} subject={`${instance} ${svc}`} />
                        <span className="w-20 text-right font-mono text-xs">{formatMetric(m, points[points.length - 1]?.v)}</span>
                      </div>
                    </td>
                  );
                })}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
