"use client";

import { useRouter } from "next/navigation";
import { useState } from "react";
import { api } from "../../../_lib/api";
import { Dialog } from "../../../_components/Dialog";
import { ErrorNote } from "../../../_components/ui";
import type { StartOp } from "./ops";

/**
 * Clone into a new name; the steps run on the new name's channel, and when done the page moves
 * there. The Nodes view passes the cluster's API as `base` and stays (a cluster instance has no
 * instance page), and `label` names the button after its instance among many.
 */
export default function CloneButton({ name, busy, onStarted, base = "/api/v1/instances", stay = false, label }: { name: string; busy: boolean; onStarted: StartOp; base?: string; stay?: boolean; label?: string }) {
  const [open, setOpen] = useState(false);
  const [to, setTo] = useState(`${name}-copy`.slice(0, 32));
  const [error, setError] = useState<string | null>(null);
  const router = useRouter();

  async function start(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ name: string; operation: string }>(`${base}/${name}/clone`, { method: "POST", body: { to } });
      setOpen(false);
      const onDone = stay ? () => `${r.name} runs, a clone of ${name}` : () => router.push(`/instances/${r.name}`);
      onStarted({ id: r.operation, label: `clone to ${r.name}`, channel: r.name, onDone });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <>
      <button type="button" className="btn" data-testid="clone-open" aria-label={label} disabled={busy} onClick={() => { setError(null); setOpen(true); }}>Clone</button>
      {open && (
        <Dialog title={`Clone ${name}`} description="A new instance with a copy of this site's database, files, code and config, on its own network and port, with new secrets." onClose={() => setOpen(false)} testId="clone-dialog">
          <form className="space-y-4" onSubmit={start}>
            <label className="block space-y-1 text-sm">
              <span>New instance name</span>
              <input className="input font-mono" data-autofocus value={to} onChange={(e) => setTo(e.target.value)} required />
            </label>
            {error && <ErrorNote>{error}</ErrorNote>}
            <div className="flex justify-end gap-2">
              <button type="button" className="btn" onClick={() => setOpen(false)}>Cancel</button>
              <button type="submit" className="btn-primary" data-testid="clone-confirm" disabled={!to}>Clone</button>
            </div>
          </form>
        </Dialog>
      )}
    </>
  );
}
