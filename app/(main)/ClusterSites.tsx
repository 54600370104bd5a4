"use client";

import Link from "next/link";
import { useEffect, useState } from "react";
import { api } from "../_lib/api";
import { Mono } from "../_components/ui";
import type { ClusterSiteRow } from "../_lib/types";

const REFRESH_MS = 30_000;

/**
 * The cluster's sites beside the host's own, so one dashboard lists every site: each with its
 * address at the manager, node, release and state; managing them stays on the Nodes view. Shown
 * only when a cluster has sites (most hosts have none).
 */
export default function ClusterSites() {
  const [data, setData] = useState<{ cluster: string | null; sites: ClusterSiteRow[] } | null>(null);
  useEffect(() => {
    let live = true;
    const load = () => api<{ cluster: string | null; sites: ClusterSiteRow[] }>("/api/v1/cluster/instances").then((d) => live && setData(d), () => undefined);
    load();
    const t = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, []);
  if (!data?.cluster || data.sites.length === 0) return null;
  return (
    <section className="card overflow-x-auto" data-testid="cluster-sites" aria-label="Cluster sites">
      <div className="flex items-center gap-3 px-4 pt-3">
        <h2 className="text-sm font-semibold">In cluster <Mono>{data.cluster}</Mono> ({data.sites.length})</h2>
        <Link href="/nodes" className="ml-auto text-sm text-indigo-700 hover:underline dark:text-indigo-300">Manage on the Nodes view</Link>
      </div>
      <table className="w-full text-sm">
        <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800">
          <tr>
            <th className="px-4 py-2">Name</th>
            <th className="px-4 py-2">Status</th>
            <th className="px-4 py-2">Moodle</th>
            <th className="px-4 py-2">Node</th>
            <th className="px-4 py-2">URL</th>
          </tr>
        </thead>
        <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
          {data.sites.map((s) => (
            <tr key={s.name} data-cluster-site={s.name}>
              <td className="px-4 py-2 font-semibold">{s.name}</td>
              <td className="px-4 py-2">{s.running ? "running" : "not running"}</td>
              <td className="px-4 py-2 text-xs">{s.release}</td>
              <td className="px-4 py-2"><Mono>{s.node}</Mono></td>
              <td className="px-4 py-2">
                <a href={s.url} target="_blank" rel="noreferrer" className="font-mono text-xs text-indigo-700 hover:underline dark:text-indigo-300">{s.url}</a>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
