"use client";

import Link from "next/link";
import { useEffect, useRef, useState } from "react";
import { api } from "../_lib/api";
import { useEvents } from "../_lib/events";
import type { InstanceView } from "../_lib/types";
import { EmptyState, ErrorNote, HealthDot, Mono, StatusBadge, type OpEventLite } from "../_components/ui";
import ImportPanel from "./ImportPanel";
import ClusterSites from "./ClusterSites";
import { StatCell } from "../components/charts/StatCell";
import { useStatsHistory } from "../components/charts/useStatsHistory";

interface BulkRow { action: string; opId?: string; state: "running" | "done" | "error"; message?: string }

export default function InstanceList() {
  const [list, setList] = useState<InstanceView[] | null>(null);
  const samples = useStatsHistory();
  const [error, setError] = useState<string | null>(null);
  const [filter, setFilter] = useState("");
  const [selected, setSelected] = useState<Set<string>>(new Set());
  // Bulk start/stop: per instance, its operation and how it ended.
  const [bulk, setBulk] = useState<Record<string, BulkRow>>({});
  // Operations seen ending, for one that ends before its POST has answered with the id.
  const ended = useRef(new Map<string, { state: "done" | "error"; message?: string }>());

  // One failed first load (a busy server, a dropped connection) must not leave the page empty for
  // good: say so, and try again with a growing pause until the list arrives.
  useEffect(() => {
    let stopped = false;
    let delay = 1000;
    const load = () => {
      api<{ instances: InstanceView[] }>("/api/v1/instances")
        .then((r) => {
          if (stopped) return;
          setList(r.instances);
          setError(null);
        })
        .catch((e: Error) => {
          if (stopped) return;
          setError(`${e.message} (trying again)`);
          setTimeout(load, delay);
          delay = Math.min(delay * 2, 10_000);
        });
    };
    load();
    return () => {
      stopped = true;
    };
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
    op: (d) => {
      const ev = d as OpEventLite;
      if (ev.type !== "done" && ev.type !== "error") return;
      const state = ev.type;
      ended.current.set(ev.opId, { state, message: ev.message });
      setBulk((cur) => {
        const b = cur[ev.instance];
        if (!b || b.opId !== ev.opId) return cur;
        return { ...cur, [ev.instance]: { ...b, state, message: state === "error" ? ev.message : undefined } };
      });
    },
  });

  const shown = (list ?? []).filter((i) => !filter || i.name.includes(filter.toLowerCase()));
  const picked = shown.filter((i) => selected.has(i.name)).map((i) => i.name);
  const toggle = (n: string, on: boolean) => setSelected((cur) => {
    const next = new Set(cur);
    if (on) next.add(n);
    else next.delete(n);
    return next;
  });

  /** One request per selected instance, in parallel; each row's result comes from its operation's end. */
  async function bulkAct(action: "start" | "stop") {
    setBulk(Object.fromEntries(picked.map((n) => [n, { action, state: "running" as const }])));
    await Promise.all(picked.map(async (n) => {
      try {
        const r = await api<{ operation: string }>(`/api/v1/instances/${n}/actions/${action}`, { method: "POST", body: {} });
        const end = ended.current.get(r.operation);
        setBulk((cur) => ({ ...cur, [n]: { action, opId: r.operation, state: end?.state ?? "running", message: end?.state === "error" ? end.message : undefined } }));
      } catch (e) {
        setBulk((cur) => ({ ...cur, [n]: { action, state: "error", message: (e as Error).message } }));
      }
    }));
  }
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
      <div className="flex flex-col items-end gap-3"><ImportPanel /></div>
      {list && list.length > 0 && (
        <div className="flex flex-wrap items-center gap-2" role="group" aria-label="Selected instances">
          <span className="text-sm text-slate-500" data-testid="bulk-count">{picked.length} selected</span>
          <button type="button" className="btn" data-testid="bulk-start" disabled={picked.length === 0} onClick={() => bulkAct("start")}>Start selected</button>
          <button type="button" className="btn" data-testid="bulk-stop" disabled={picked.length === 0} onClick={() => bulkAct("stop")}>Stop selected</button>
        </div>
      )}
      {Object.keys(bulk).length > 0 && (
        <ul className="card space-y-1 p-3 text-sm" data-testid="bulk-results" aria-live="polite" aria-label="Bulk results">
          {Object.entries(bulk).map(([n, b]) => (
            <li key={n} data-instance={n} data-result={b.state}>
              <Mono>{n}</Mono>: {b.action} {b.state === "running" ? "…" : b.state === "done" ? "✓ done" : `✗ ${b.message ?? "failed"}`}
            </li>
          ))}
        </ul>
      )}
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
                <th className="w-8 px-4 py-3">
                  <input type="checkbox" aria-label="Select all shown instances" data-testid="select-all" checked={shown.length > 0 && picked.length === shown.length} onChange={(e) => setSelected(e.target.checked ? new Set(shown.map((i) => i.name)) : new Set())} />
                </th>
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
                      <input type="checkbox" aria-label={`Select ${i.name}`} checked={selected.has(i.name)} onChange={(e) => toggle(i.name, e.target.checked)} />
                    </td>
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
      <ClusterSites />
    </div>
  );
}
