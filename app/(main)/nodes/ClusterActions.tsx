"use client";

import { useState } from "react";
import { api } from "../../_lib/api";
import { Dialog } from "../../_components/Dialog";
import type { NodeOverview } from "../../_lib/types";
import CloneButton from "../instances/[name]/CloneButton";
import ExportButton from "../instances/[name]/ExportButton";
import type { StartOp } from "../instances/[name]/ops";

/** The cluster's REST API; every action here is one call there (the CLI's `cluster` verbs). */
const BASE = "/api/v1/cluster";
/** Drain and activate run on one channel for all nodes (lib/operations.ts). */
const NODES_CHANNEL = "_cluster";

/** POST a long action and hand its operation to the panel; a refusal (404, 409, 422) shows there at once. */
async function post(path: string, label: string, channel: string, onStarted: StartOp, onDone: () => string): Promise<void> {
  try {
    const r = await api<{ operation: string }>(path, { method: "POST" });
    onStarted({ id: r.operation, label, channel, onDone });
  } catch (e) {
    onStarted({ id: null, label, channel, error: (e as Error).message });
  }
}

/** Clone (asks the new name), Export (a download once packed) and Snapshot for one cluster instance. */
export function InstanceActions({ name, busy, onStarted }: { name: string; busy: boolean; onStarted: StartOp }) {
  const snapshot = () => post(`${BASE}/instances/${name}/snapshots`, `snapshot ${name}`, name, onStarted, () => `${name}: snapshot taken (the cluster keeps the latest one)`);
  return (
    <div className="flex flex-wrap gap-1 text-xs">
      <CloneButton name={name} busy={busy} onStarted={onStarted} base={`${BASE}/instances`} stay label={`Clone ${name}`} />
      <ExportButton name={name} busy={busy} onStarted={onStarted} base={`${BASE}/instances`} label={`Export ${name}`} />
      <button type="button" className="btn" aria-label={`Snapshot ${name}`} disabled={busy} onClick={snapshot}>Snapshot</button>
    </div>
  );
}

/** Drain (after a confirm: it stops and moves every instance on the node) or Activate a node. */
export function NodeActions({ n, busy, onStarted }: { n: NodeOverview; busy: boolean; onStarted: StartOp }) {
  const [confirm, setConfirm] = useState(false);
  const node = n.hostname;
  const path = `${BASE}/nodes/${encodeURIComponent(node)}`;
  const drain = () => {
    setConfirm(false);
    return post(`${path}/drain`, `drain ${node}`, NODES_CHANNEL, onStarted, () => `${node} drained: its instances run elsewhere`);
  };
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
        <button type="button" className="btn" aria-label={`Drain ${node}`} disabled={busy || n.state !== "ready"} onClick={() => setConfirm(true)}>Drain</button>
      ) : (
        <button type="button" className="btn" aria-label={`Activate ${node}`} disabled={busy} onClick={activate}>Activate</button>
      )}
      {confirm && (
        <Dialog
          title={`Drain ${node}?`}
          description="The swarm places nothing new on it, and each instance whose data it holds moves to another node by a live copy: stopped while its data is copied, then answering again on the same port."
          onClose={() => setConfirm(false)}
          testId="drain-dialog"
        >
          <div className="flex justify-end gap-2">
            <button type="button" className="btn" data-autofocus onClick={() => setConfirm(false)}>Cancel</button>
            <button type="button" className="btn-primary" onClick={drain}>Drain</button>
          </div>
        </Dialog>
      )}
    </div>
  );
}
