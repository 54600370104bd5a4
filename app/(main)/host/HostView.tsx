"use client";

import { useEffect, useState } from "react";
import { api, formatBytes } from "../../_lib/api";
import { ErrorNote, Mono } from "../../_components/ui";

interface Disk { path: string; totalBytes: number; freeBytes: number; usedPercent: number }
interface Host {
  engine: { ok: boolean; error?: string; version?: string; apiVersion?: string; os?: string; kernel?: string; storageDriver?: string; cpus?: number; memTotalBytes?: number; containers?: number; containersRunning?: number; images?: number };
  disk: { home: Disk | null; engine: Disk | null; docker: { images: number; containers: number; volumes: number; buildCache: number } | null };
  networks: { name: string; subnet: string; n: number | null; instance: string | null; managed: boolean }[];
  ports: { port: number; instance: string | null; container: string; state: string }[];
  portRange: { min: number; max: number };
  instances: number;
  error: string | null;
}

function DiskBar({ label, d }: { label: string; d: Disk | null }) {
  if (!d) return null;
  return (
    <div className="space-y-1">
      <div className="flex justify-between text-sm"><span>{label} <Mono>{d.path}</Mono></span><Mono>{formatBytes(d.freeBytes)} free of {formatBytes(d.totalBytes)}</Mono></div>
      <div className="h-2 overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800">
        <div className={`h-full ${d.usedPercent > 90 ? "bg-rose-500" : d.usedPercent > 75 ? "bg-amber-500" : "bg-indigo-500"}`} style={{ width: `${d.usedPercent}%` }} />
      </div>
    </div>
  );
}

export default function HostView() {
  const [h, setH] = useState<Host | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<Host>("/api/v1/host").then(setH).catch((e: Error) => setError(e.message));
  }, []);
  if (error) return <ErrorNote>{error}</ErrorNote>;
  if (!h) return <div className="grid gap-4 md:grid-cols-2"><div className="skeleton h-48" /><div className="skeleton h-48" /></div>;
  const e = h.engine;
  return (
    <div className="space-y-5">
      <h1 className="text-2xl font-semibold">Host</h1>
      {h.error && <ErrorNote>{h.error}</ErrorNote>}
      <div className="grid gap-5 lg:grid-cols-2">
        <div className="card p-5">
          <h2 className="mb-3 font-semibold">Engine</h2>
          {!e.ok ? <ErrorNote>{e.error}</ErrorNote> : (
            <dl className="grid grid-cols-2 gap-y-2 text-sm">
              <dt className="text-slate-500">Docker</dt><dd><Mono>{e.version} (API {e.apiVersion})</Mono></dd>
              <dt className="text-slate-500">OS</dt><dd><Mono>{e.os}</Mono></dd>
              <dt className="text-slate-500">Kernel</dt><dd><Mono>{e.kernel}</Mono></dd>
              <dt className="text-slate-500">Storage</dt><dd><Mono>{e.storageDriver}</Mono></dd>
              <dt className="text-slate-500">CPUs / memory</dt><dd><Mono>{e.cpus} / {formatBytes(e.memTotalBytes)}</Mono></dd>
              <dt className="text-slate-500">Containers</dt><dd><Mono>{e.containersRunning} running of {e.containers}</Mono></dd>
              <dt className="text-slate-500">Images</dt><dd><Mono>{e.images}</Mono></dd>
              <dt className="text-slate-500">Instances</dt><dd><Mono>{h.instances}</Mono></dd>
            </dl>
          )}
        </div>
        <div className="card space-y-4 p-5">
          <h2 className="font-semibold">Disk</h2>
          <DiskBar label="Data" d={h.disk.home} />
          <DiskBar label="Engine" d={h.disk.engine} />
          {h.disk.docker && (
            <dl className="grid grid-cols-2 gap-y-1 text-sm">
              <dt className="text-slate-500">Image layers</dt><dd><Mono>{formatBytes(h.disk.docker.images)}</Mono></dd>
              <dt className="text-slate-500">Container layers</dt><dd><Mono>{formatBytes(h.disk.docker.containers)}</Mono></dd>
              <dt className="text-slate-500">Volumes</dt><dd><Mono>{formatBytes(h.disk.docker.volumes)}</Mono></dd>
              <dt className="text-slate-500">Build cache</dt><dd><Mono>{formatBytes(h.disk.docker.buildCache)}</Mono></dd>
            </dl>
          )}
        </div>
      </div>
      <div className="grid gap-5 lg:grid-cols-2">
        <div className="card overflow-hidden">
          <h2 className="px-5 pt-4 font-semibold">Networks</h2>
          <table className="mt-2 w-full text-sm">
            <thead className="text-left text-xs uppercase text-slate-500"><tr><th className="px-5 py-2">Name</th><th className="px-5 py-2">Subnet</th><th className="px-5 py-2">Instance</th></tr></thead>
            <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
              {h.networks.map((n) => (
                <tr key={n.name}><td className="px-5 py-2"><Mono>{n.name}</Mono></td><td className="px-5 py-2"><Mono>{n.subnet || "—"}</Mono></td><td className="px-5 py-2">{n.instance ?? <span className="text-slate-500 dark:text-slate-400">{n.managed ? "free (pre-created)" : "—"}</span>}</td></tr>
              ))}
            </tbody>
          </table>
        </div>
        <div className="card overflow-hidden">
          <h2 className="px-5 pt-4 font-semibold">Ports <span className="text-sm font-normal text-slate-500">(instance range {h.portRange.min}–{h.portRange.max})</span></h2>
          <table className="mt-2 w-full text-sm">
            <thead className="text-left text-xs uppercase text-slate-500"><tr><th className="px-5 py-2">Port</th><th className="px-5 py-2">Container</th><th className="px-5 py-2">Instance</th><th className="px-5 py-2">State</th></tr></thead>
            <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
              {h.ports.length === 0 && <tr><td colSpan={4} className="px-5 py-4 text-slate-500">No published ports.</td></tr>}
              {h.ports.map((p) => (
                <tr key={p.port}><td className="px-5 py-2"><Mono>{p.port}</Mono></td><td className="px-5 py-2"><Mono>{p.container}</Mono></td><td className="px-5 py-2">{p.instance ?? "—"}</td><td className="px-5 py-2"><Mono>{p.state}</Mono></td></tr>
              ))}
            </tbody>
          </table>
        </div>
      </div>
    </div>
  );
}
