"use client";

import { useState } from "react";
import { api } from "../../_lib/api";
import { Dialog } from "../../_components/Dialog";
import { ErrorNote } from "../../_components/ui";
import type { NodeOverview } from "../../_lib/types";
import type { StartOp } from "../instances/[name]/ops";
import { BASE, placeable } from "./clusterApi";

type Inst = NodeOverview["instances"][number];

/**
 * Move a cluster instance to another ready, active node: by a live copy of its folder, or from its
 * latest snapshot when the node holding its data is gone (then the default). A refusal (409: it
 * is already there, 404: no snapshot) shows in the dialog, which stays open to pick again.
 */
export default function ClusterMove({ i, nodes, busy, onStarted }: { i: Inst; nodes: NodeOverview[]; busy: boolean; onStarted: StartOp }) {
  const targets = placeable(nodes).filter((n) => n.hostname !== i.node);
  const sourceUp = nodes.some((n) => n.hostname === i.node && n.state === "ready");
  const [open, setOpen] = useState(false);
  const [to, setTo] = useState("");
  const [from, setFrom] = useState<"live" | "snapshot">("live");
  const [error, setError] = useState<string | null>(null);

  function show() {
    setError(null);
    setTo(targets[0]?.hostname ?? "");
    setFrom(sourceUp || !i.snapshotAt ? "live" : "snapshot");
    setOpen(true);
  }

  async function move(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ operation: string }>(`${BASE}/instances/${i.name}/move`, { method: "POST", body: { to, from } });
      setOpen(false);
      onStarted({ id: r.operation, label: `move ${i.name} to ${to}`, channel: i.name, onDone: () => `${i.name} answers again on :${i.port} from ${to}` });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <>
      <button type="button" className="btn" aria-label={`Move ${i.name}`} disabled={busy || targets.length === 0} onClick={show}>Move</button>
      {open && (
        <Dialog title={`Move ${i.name}`} description={`From ${i.node}. It stops while its data moves, then answers again on the same port.`} onClose={() => setOpen(false)} testId="cluster-move-dialog">
          <form className="space-y-4" onSubmit={move}>
            <label className="block space-y-1 text-sm">
              <span>To node</span>
              <select className="input font-mono" data-autofocus value={to} onChange={(e) => setTo(e.target.value)} required>
                {targets.map((n) => <option key={n.id} value={n.hostname}>{n.hostname}</option>)}
              </select>
            </label>
            <fieldset className="space-y-1 text-sm">
              <legend className="mb-1">Data</legend>
              <label className="flex items-center gap-2">
                <input type="radio" name="from" value="live" checked={from === "live"} onChange={() => setFrom("live")} />
                <span>Live copy from {i.node}{sourceUp ? "" : " (not ready: this will fail)"}</span>
              </label>
              <label className="flex items-center gap-2">
                <input type="radio" name="from" value="snapshot" checked={from === "snapshot"} disabled={!i.snapshotAt} onChange={() => setFrom("snapshot")} />
                <span>{i.snapshotAt ? `From the snapshot of ${i.snapshotAt} (later changes are lost)` : "From a snapshot (it has none)"}</span>
              </label>
            </fieldset>
            {error && <ErrorNote>{error}</ErrorNote>}
            <div className="flex justify-end gap-2">
              <button type="button" className="btn" onClick={() => setOpen(false)}>Cancel</button>
              <button type="submit" className="btn-primary" disabled={!to}>Move</button>
            </div>
          </form>
        </Dialog>
      )}
    </>
  );
}
