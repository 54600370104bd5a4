"use client";

import { useCallback, useEffect, useState } from "react";
import { api, formatBytes } from "../../../_lib/api";
import { Dialog } from "../../../_components/Dialog";
import { EmptyState, ErrorNote, Mono } from "../../../_components/ui";
import type { StartOp } from "./ops";

interface Snapshot { id: string; bytes: number; createdAt: string }

/** The id is <UTC yyyymmddThhmmssZ>[-label]. */
function parseId(id: string): { at: Date | null; label: string } {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z(?:-(.+))?$/.exec(id);
  if (!m) return { at: null, label: "" };
  return { at: new Date(Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6])), label: m[7] ?? "" };
}

/**
 * Snapshots kept beside the instance: list (time, label, size), create with an optional label,
 * restore behind a confirmation (it replaces the database, files, code and config), delete.
 * Create and restore run as operations in the page's panel; `version` changes when one ends.
 */
export default function SnapshotsTab({ name, busy, version, onStarted }: { name: string; busy: boolean; version: number; onStarted: StartOp }) {
  const [list, setList] = useState<Snapshot[] | null>(null);
  const [label, setLabel] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [confirm, setConfirm] = useState<{ kind: "restore" | "delete"; id: string } | null>(null);

  const load = useCallback(() => {
    api<{ snapshots: Snapshot[] }>(`/api/v1/instances/${name}/snapshots`)
      .then((r) => setList(r.snapshots))
      .catch((e: Error) => setError(e.message));
  }, [name]);
  useEffect(load, [load, version]);

  async function create(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ operation: string }>(`/api/v1/instances/${name}/snapshots`, { method: "POST", body: label ? { label } : {} });
      onStarted({ id: r.operation, label: `snapshot${label ? ` ${label}` : ""}`, channel: name, onDone: () => "Snapshot saved" });
      setLabel("");
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function confirmed() {
    if (!confirm) return;
    const { kind, id } = confirm;
    setConfirm(null);
    setError(null);
    try {
      if (kind === "restore") {
        const r = await api<{ operation: string }>(`/api/v1/instances/${name}/snapshots/${id}/restore`, { method: "POST", body: {} });
        onStarted({ id: r.operation, label: `restore ${id}`, channel: name, onDone: () => `Restored ${id}` });
      } else {
        await api(`/api/v1/instances/${name}/snapshots/${id}`, { method: "DELETE" });
        load();
      }
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <div className="card space-y-4 p-5" data-testid="snapshots">
      <form className="flex flex-wrap items-end gap-2" onSubmit={create}>
        <label className="space-y-1 text-sm">
          <span className="block">Label (optional: a-z, 0-9, -)</span>
          <input className="input w-64 font-mono" value={label} onChange={(e) => setLabel(e.target.value)} maxLength={32} data-testid="snapshot-label" />
        </label>
        <button type="submit" className="btn-primary" disabled={busy} data-testid="snapshot-create">Create snapshot</button>
      </form>
      {error && <ErrorNote>{error}</ErrorNote>}
      {list === null && !error && <div className="skeleton h-16 w-full" />}
      {list?.length === 0 && <EmptyState title="No snapshots yet">A snapshot keeps the database, moodledata, code and config, to restore in place later.</EmptyState>}
      {list && list.length > 0 && (
        <table className="w-full text-sm">
          <caption className="sr-only">Snapshots of {name}</caption>
          <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800">
            <tr><th className="px-3 py-2">Time</th><th className="px-3 py-2">Label</th><th className="px-3 py-2 text-right">Size</th><th className="px-3 py-2"><span className="sr-only">Actions</span></th></tr>
          </thead>
          <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
            {list.map((s) => {
              const { at, label: l } = parseId(s.id);
              return (
                <tr key={s.id} data-snapshot={s.id}>
                  <td className="px-3 py-2"><Mono>{(at ?? new Date(s.createdAt)).toLocaleString()}</Mono></td>
                  <td className="px-3 py-2"><Mono>{l || "—"}</Mono></td>
                  <td className="px-3 py-2 text-right"><Mono>{formatBytes(s.bytes)}</Mono></td>
                  <td className="px-3 py-2 text-right">
                    <div className="flex justify-end gap-2">
                      <button type="button" className="btn" disabled={busy} onClick={() => setConfirm({ kind: "restore", id: s.id })} aria-label={`Restore ${s.id}`}>Restore</button>
                      <button type="button" className="btn-danger" disabled={busy} onClick={() => setConfirm({ kind: "delete", id: s.id })} aria-label={`Delete ${s.id}`}>Delete</button>
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {confirm && (
        <Dialog
          title={confirm.kind === "restore" ? `Restore ${name} to this snapshot?` : "Delete this snapshot?"}
          description={confirm.kind === "restore"
            ? "The database, moodledata, code and config are replaced by the snapshot's; anything changed since is lost. The instance keeps its name, port and secrets."
            : "The archive is removed; it cannot be restored afterwards."}
          onClose={() => setConfirm(null)}
          testId="snapshot-confirm"
        >
          <p><Mono>{confirm.id}</Mono></p>
          <div className="flex justify-end gap-2">
            <button type="button" className="btn" data-autofocus onClick={() => setConfirm(null)}>Cancel</button>
            <button type="button" className={confirm.kind === "restore" ? "btn-primary" : "btn-danger"} onClick={confirmed}>
              {confirm.kind === "restore" ? "Restore" : "Delete"}
            </button>
          </div>
        </Dialog>
      )}
    </div>
  );
}
