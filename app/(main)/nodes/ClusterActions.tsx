"use client";

import { api } from "../../_lib/api";
import type { NodeOverview } from "../../_lib/types";
import CloneButton from "../instances/[name]/CloneButton";
import ExportButton from "../instances/[name]/ExportButton";
import type { StartOp } from "../instances/[name]/ops";
import ClusterMove from "./ClusterMove";
import ConfirmButton from "./ConfirmButton";
import { BASE, NODES_CHANNEL, post } from "./clusterApi";

type Inst = NodeOverview["instances"][number];

/** Per cluster instance: Clone (asks the new name), Export, Snapshot, Start (when not running), Move, Remove (after a confirm). */
export function InstanceActions({ i, nodes, busy, onStarted }: { i: Inst; nodes: NodeOverview[]; busy: boolean; onStarted: StartOp }) {
  const name = i.name;
  const path = `${BASE}/instances/${name}`;
  const snapshot = () => post(`${path}/snapshots`, `snapshot ${name}`, name, onStarted, () => `${name}: snapshot taken (the cluster keeps the latest one)`);
  const start = () => post(`${path}/start`, `start ${name}`, name, onStarted, () => `${name} answers on :${i.port} from ${i.node}`);
  const remove = () => post(path, `remove ${name}`, name, onStarted, () => `${name} removed`, { method: "DELETE" });
  return (
    <div className="flex flex-wrap gap-1 text-xs">
      <CloneButton name={name} busy={busy} onStarted={onStarted} base={`${BASE}/instances`} stay label={`Clone ${name}`} />
      <ExportButton name={name} busy={busy} onStarted={onStarted} base={`${BASE}/instances`} label={`Export ${name}`} />
      <button type="button" className="btn" aria-label={`Snapshot ${name}`} disabled={busy} onClick={snapshot}>Snapshot</button>
      {!i.running && <button type="button" className="btn" aria-label={`Start ${name}`} disabled={busy} onClick={start}>Start</button>}
      <ClusterMove i={i} nodes={nodes} busy={busy} onStarted={onStarted} />
      <ConfirmButton
        label="Remove"
        ariaLabel={`Remove ${name}`}
        title={`Remove ${name}?`}
        description={`Its services, network and port go, and its data on ${i.node} and its snapshot are deleted. This cannot be undone: export it first to keep a copy.`}
        disabled={busy}
        testId="cluster-remove-dialog"
        onConfirm={remove}
      />
    </div>
  );
}

/** Drain (after a confirm: it stops and moves every instance on the node) or Activate a node; Recover one that is not ready. */
export function NodeActions({ n, busy, onStarted }: { n: NodeOverview; busy: boolean; onStarted: StartOp }) {
  const node = n.hostname;
  const path = `${BASE}/nodes/${encodeURIComponent(node)}`;
  const drain = () => post(`${path}/drain`, `drain ${node}`, NODES_CHANNEL, onStarted, () => `${node} drained: its instances run elsewhere`);
  const recover = () => post(`${path}/recover`, `recover ${node}`, NODES_CHANNEL, onStarted, () => `${node}'s instances run elsewhere again, each from its latest snapshot`);
  async function activate() {
    const label = `activate ${node}`;
    try {
      const r = await api<{ hostname: string; availability: string }>(`${path}/activate`, { method: "POST" });
      onStarted({ id: null, label, channel: NODES_CHANNEL, result: `${r.hostname} is ${r.availability}` });
    } catch (e) {
      onStarted({ id: null, label, channel: NODES_CHANNEL, error: (e as Error).message });
    }
  }
  return (
    <div className="flex gap-1">
      {n.availability === "active" ? (
        <ConfirmButton
          label="Drain"
          ariaLabel={`Drain ${node}`}
          title={`Drain ${node}?`}
          description="The swarm places nothing new on it, and each instance whose data it holds moves to another node by a live copy: stopped while its data is copied, then answering again on the same port."
          disabled={busy || n.state !== "ready"}
          testId="drain-dialog"
          onConfirm={drain}
        />
      ) : (
        <button type="button" className="btn" aria-label={`Activate ${node}`} disabled={busy} onClick={activate}>Activate</button>
      )}
      {/* Only a lost node is recovered: one the swarm still sees ready may be alive (drain moves its instances whole). */}
      {n.state !== "ready" && (
        <ConfirmButton
          label="Recover"
          ariaLabel={`Recover ${node}`}
          title={`Recover ${node}?`}
          description="Each instance whose data it held comes back on another node from its latest snapshot. Every change made after that snapshot is lost; an instance without a snapshot cannot be recovered."
          disabled={busy}
          testId="recover-dialog"
          onConfirm={recover}
        />
      )}
    </div>
  );
}
