"use client";

import Link from "next/link";
import { useEffect, useState } from "react";
import { api } from "../_lib/api";
import { useEvents } from "../_lib/events";
import type { InstanceView } from "../_lib/types";
import { EmptyState, ErrorNote, HealthDot, Mono, StatusBadge } from "../_components/ui";
import { StatCell } from "../components/charts/StatCell";
import { useStatsHistory } from "../components/charts/useStatsHistory";

export default function InstanceList() {
  const [list, setList] = useState<InstanceView[] | null>(null);
  const samples = useStatsHistory();
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");

  useEffect(() => {
    api<{ instances: InstanceView[] }>("/api/v1/instances")
      .then((r) => setList(r.instances))
      .catch((e: Error) => setError(e.message));
  }, []);

  useEvents({
    status: (d) => {
      const { instance, view } = d as { instance: string; view: InstanceView | null };
      setList((cur) => {
        if (!cur) return cur;
        if (!view) return cur.filter((i) => i.name !== instance);
        const i = cur.findIndex((x) => x.name === instance);
        if (i < 0) return [...cur, view].sort((a, b) => a.name.localeCompare(b.name));
        const next = cur.slice();
        next[i] = view;
        return next;
      });
    },
  });

  const shown = (list ?? []).filter((i) => !filter || i.name.includes(filter.toLowerCase()));
  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-center gap-3">
        <h1 className="text-2xl font-semibold">Instances</h1>
        {list && <span className="rounded-full bg-slate-200 px-2 py-0.5 text-xs font-semibold dark:bg-slate-800">{list.length}</span>}
        <div className="ml-auto flex items-center gap-2">
          {list && list.length > 5 && (
            <input className="input w-56" aria-label="Filter instances by name" placeholder="Filter by name…" value={filter} onChange={(e) => setFilter(e.target.value)} />
          )}
          <Link href="/instances/new" className="btn-primary">+ New instance</Link>
        </div>
      </div>
      {error && <ErrorNote>{error}</ErrorNote>}
      {!list && !error && (
        <div className="space-y-2">
          {[0, 1, 2].map((i) => <div key={i} className="skeleton h-16 w-full" />)}
        </div>
      )}
      {list && list.length === 0 && (
        <EmptyState title="No instances yet" action={<Link href="/instances/new" className="btn-primary">Create your first Moodle</Link>}>
          Each instance is a Moodle site with its own database, PHP, web server and cron, on its own network and port.
        </EmptyState>
      )}
      {shown.length > 0 && (
        <div className="card overflow-x-auto">
          <table className="w-full text-sm" data-testid="instance-table">
            <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800">
              <tr>
                <th className="px-4 py-3">Name</th>
                <th className="px-4 py-3">Status</th>
                <th className="px-4 py-3">Services</th>
                <th className="px-4 py-3">Versions</th>
                <th className="px-4 py-3">URL</th>
                <th className="px-4 py-3">Subnet</th>
                <th className="px-4 py-3 text-right">CPU</th>
                <th className="px-4 py-3 text-right">Memory</th>
                <th className="px-4 py-3 text-right">Network</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
              {shown.map((i) => {
                return (
                  <tr key={i.name} data-instance={i.name} className="hover:bg-slate-50 dark:hover:bg-slate-800/40">
                    <td className="px-4 py-3">
                      <Link href={`/instances/${i.name}`} className="whitespace-nowrap font-semibold text-indigo-700 hover:underline dark:text-indigo-300">{i.name}</Link>
                    </td>
                    <td className="px-4 py-3"><StatusBadge status={i.status} /></td>
                    <td className="px-4 py-3">
                      <div className="flex gap-2.5">
                        {i.services.map((sv) => <HealthDot key={sv.service} label={sv.service} state={sv.state} health={sv.health} />)}
                      </div>
                    </td>
                    <td className="px-4 py-3 font-mono text-xs text-slate-600 dark:text-slate-400">
                      moodle {i.moodle} · php {i.php} · {i.db} · {i.web}
                    </td>
                    <td className="px-4 py-3">
                      <a href={i.url} target="_blank" rel="noreferrer" className="font-mono text-xs text-indigo-700 hover:underline dark:text-indigo-300">{i.url}</a>
                    </td>
                    <td className="px-4 py-3"><Mono>{i.subnet}</Mono></td>
                    <td className="px-4 py-3"><StatCell samples={samples} instance={i.name} metric="cpu" /></td>
                    <td className="px-4 py-3"><StatCell samples={samples} instance={i.name} metric="mem" /></td>
                    <td className="px-4 py-3"><StatCell samples={samples} instance={i.name} metric="net" /></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </div>
  );
}
