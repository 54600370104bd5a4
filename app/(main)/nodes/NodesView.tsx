"use client";

import { useEffect, useState } from "react";
import { api, formatBytes } from "../../_lib/api";
import type { ClusterOverview, NodeOverview } from "../../_lib/types";
import { ErrorNote, Mono } from "../../_components/ui";
import ClusterLogin from "./ClusterLogin";
import ClusterLogs from "./ClusterLogs";
import ClusterTerminal from "./ClusterTerminal";
import ClusterOpPanel from "./ClusterOpPanel";
import { InstanceActions, NodeActions } from "./ClusterActions";
import ClusterCreate from "./ClusterCreate";
import ClusterJoin from "./ClusterJoin";
import type { PanelOp, StartOp } from "../instances/[name]/ops";

/** Refreshed while the page is open; each refresh reads every node's engine once. */
const REFRESH_MS = 15_000;

function NodeCard({ n, nodes, busy, onStarted }: { n: NodeOverview; nodes: NodeOverview[]; busy: boolean; onStarted: StartOp }) {
  const u = n.usage;
  const [logsOf, setLogsOf] = useState<string | null>(null);
  const [termOf, setTermOf] = useState<string | null>(null);
  const bad = n.state !== "ready";
  return (
    <div className="card space-y-3 p-5" data-testid="node-card" data-node={n.hostname}>
      <div className="flex items-center justify-between gap-2">
        <h2 className="font-semibold"><Mono>{n.hostname}</Mono></h2>
        <div className="flex items-center gap-2">
          <span className={`rounded-full px-2 py-0.5 text-xs ${bad ? "bg-rose-100 text-rose-800 dark:bg-rose-950 dark:text-rose-300" : n.availability !== "active" ? "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300" : "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300"}`}>
            {n.state} · {n.availability}
          </span>
          <NodeActions n={n} busy={busy} onStarted={onStarted} />
        </div>
      </div>
      <dl className="grid grid-cols-2 gap-y-1 text-sm">
        <dt className="text-slate-500">Role</dt><dd><Mono>{n.role}{n.leader ? " (leader)" : ""}</Mono></dd>
        <dt className="text-slate-500">Address</dt><dd><Mono>{n.addr}</Mono></dd>
        <dt className="text-slate-500">CPU</dt><dd><Mono>{u ? `${u.cpuPercent.toFixed(1)} % of ${n.cpus} cores` : `${n.cpus} cores`}</Mono></dd>
        <dt className="text-slate-500">Memory</dt><dd><Mono>{u ? `${formatBytes(u.memBytes)} of ${formatBytes(n.memoryBytes)}` : formatBytes(n.memoryBytes)}</Mono></dd>
        <dt className="text-slate-500">Disk</dt><dd><Mono>{u?.disk ? `${formatBytes(u.disk.usedBytes)} of ${formatBytes(u.disk.totalBytes)}` : "—"}</Mono></dd>
        <dt className="text-slate-500">Containers</dt><dd><Mono>{u ? u.containersRunning : "—"}</Mono></dd>
      </dl>
      {n.error && <ErrorNote>{n.error}</ErrorNote>}
      {logsOf && <ClusterLogs name={logsOf} onClose={() => setLogsOf(null)} />}
      {termOf && <ClusterTerminal name={termOf} node={n.hostname} onClose={() => setTermOf(null)} />}
      <div>
        <h3 className="mb-1 text-sm font-medium">Instances ({n.instances.length})</h3>
        {n.instances.length === 0 ? (
          <p className="text-sm text-slate-500">none</p>
        ) : (
          <ul className="space-y-1 text-sm">
            {n.instances.map((i) => (
              <li key={i.name} className="flex flex-wrap justify-between gap-x-2 gap-y-1">
                <Mono>{i.name}</Mono>
                <span className="text-xs text-slate-500" title={i.moodle}>{i.release}</span>
                <span className="text-slate-500">
                  :{i.port} · {i.running ? (i.webHere ? "running here" : "data here, web elsewhere") : "not running"}
                  {i.memBytes !== null && i.cpuPercent !== null ? ` · ${i.cpuPercent.toFixed(1)} % · ${formatBytes(i.memBytes)}` : null}
                  {!i.webHere || !i.running ? null : (
                    <>
                      <button type="button" className="btn ml-2 px-2 py-0 text-xs" onClick={() => setLogsOf(i.name)}>
                        Logs
                      </button>
                      <button type="button" className="btn ml-1 px-2 py-0 text-xs" onClick={() => setTermOf(i.name)}>
                        Terminal
                      </button>
                      <a href={`/api/v1/instances/${encodeURIComponent(i.name)}/dbadmin`} target="_blank" rel="noreferrer" className="btn ml-1 px-2 py-0 text-xs" data-testid="cluster-dbadmin">
                        DB admin ↗
                      </a>
                      <ClusterLogin name={i.name} />
                    </>
                  )}
                </span>
                {/* Once per instance: on its web task's node, or (not running) on its data's. */}
                {(i.webHere || !i.running) && <InstanceActions i={i} nodes={nodes} busy={busy} onStarted={onStarted} />}
              </li>
            ))}
          </ul>
        )}
      </div>
    </div>
  );
}

export default function NodesView() {
  const [o, setO] = useState<ClusterOverview | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [op, setOp] = useState<(PanelOp & { ended?: boolean }) | null>(null);
  // Bumped when an action ends, so the nodes are read again at once, not at the next refresh.
  const [reads, setReads] = useState(0);
  const busy = op !== null && op.id !== null && !op.ended;
  const start: StartOp = (next) => {
    setOp(next);
    if (next.id === null) setReads((r) => r + 1);
  };
  const ended = (result?: string) => {
    setOp((cur) => (cur ? { ...cur, ended: true, result: result ?? cur.result } : cur));
    setReads((r) => r + 1);
  };
  useEffect(() => {
    let live = true;
    const load = () =>
      api<ClusterOverview>("/api/v1/cluster")
        .then((x) => {
          if (live) {
            setO(x);
            setError(null);
          }
        })
        .catch((e: Error) => live && setError(e.message));
    void load();
    const t = setInterval(load, REFRESH_MS);
    return () => {
      live = false;
      clearInterval(t);
    };
  }, [reads]);
  return (
    <div className="space-y-5">
      <h1 className="text-2xl font-semibold">Nodes</h1>
      {error && <ErrorNote>{error}</ErrorNote>}
      {op && <ClusterOpPanel key={op.id ?? `${op.label}-${reads}`} op={op} onEnded={ended} onDismiss={() => setOp(null)} />}
      {!o && !error && <div className="grid gap-4 md:grid-cols-3"><div className="skeleton h-48" /><div className="skeleton h-48" /><div className="skeleton h-48" /></div>}
      {o && !o.cluster && (
        <div className="card space-y-2 p-5" data-testid="no-cluster">
          <p>This host runs on its own: no cluster.</p>
          <p className="text-sm text-slate-500">
            To spread instances over several machines in one Docker Swarm, run <Mono>moodle-dind cluster init --advertise ADDRESS</Mono> in
            this host; this page then shows how to add each machine (<Mono>docs/cluster.md</Mono>). To try it on this machine alone:{" "}
            <Mono>moodle-dind cluster up --nodes 3</Mono>.
          </p>
        </div>
      )}
      {o?.cluster && (
        <>
          <p className="text-sm text-slate-500">
            Cluster <Mono>{o.cluster.name}</Mono> ({o.cluster.machines ? "machines joined with cluster init" : <>containers on this machine, on <Mono>{o.cluster.subnet}</Mono></>}), manager{" "}
            <Mono>{o.cluster.manager}</Mono>, ports <Mono>{o.cluster.portMin}–{o.cluster.portMax}</Mono> on the manager.
          </p>
          <ClusterCreate nodes={o.nodes} busy={busy} onStarted={start} />
          {o.cluster.machines && <ClusterJoin />}
          <div className="grid gap-4 md:grid-cols-2 xl:grid-cols-3">
            {o.nodes.map((n) => <NodeCard key={n.id} n={n} nodes={o.nodes} busy={busy} onStarted={start} />)}
          </div>
        </>
      )}
    </div>
  );
}
