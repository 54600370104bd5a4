"use client";

import { useState } from "react";
import { api } from "../../../_lib/api";
import type { InstanceView } from "../../../_lib/types";
import { Dialog } from "../../../_components/Dialog";
import { ErrorNote, Mono } from "../../../_components/ui";
import type { StartOp } from "./ops";

interface Meta { matrix: { branch: string; php: string[] }[] }

/** Switch PHP within the Moodle branch's range (from /meta's version table); app and cron are recreated. */
export default function PhpButton({ view, busy, onStarted }: { view: InstanceView; busy: boolean; onStarted: StartOp }) {
  const [open, setOpen] = useState(false);
  const [versions, setVersions] = useState<string[] | null>(null);
  const [to, setTo] = useState("");
  const [error, setError] = useState<string | null>(null);

  function show() {
    setError(null);
    setOpen(true);
    api<Meta>("/api/v1/meta")
      .then((m) => {
        const others = (m.matrix.find((b) => b.branch === view.moodle)?.php ?? []).filter((v) => v !== view.php);
        setVersions(others);
        setTo(others[0] ?? "");
      })
      .catch((e: Error) => setError(e.message));
  }

  async function start(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ operation?: string }>(`/api/v1/instances/${view.name}/php`, { method: "POST", body: { version: to } });
      setOpen(false);
      if (r.operation) onStarted({ id: r.operation, label: `PHP ${view.php} → ${to}`, channel: view.name, onDone: () => `Now on PHP ${to}` });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <>
      <button type="button" className="btn" data-testid="php-open" disabled={busy} onClick={show}>PHP {view.php}</button>
      {open && (
        <Dialog title={`Switch PHP of ${view.name}`} description="App and cron are recreated on the new PHP image; the old version's config folder stays for switching back." onClose={() => setOpen(false)} testId="php-dialog">
          <form className="space-y-4" onSubmit={start}>
            {versions === null && !error && <div className="skeleton h-9 w-full" />}
            {versions?.length === 0 && <p className="text-sm text-slate-500">Moodle {view.moodle} runs on no other PHP than <Mono>{view.php}</Mono>.</p>}
            {versions && versions.length > 0 && (
              <label className="block space-y-1 text-sm">
                <span>PHP version</span>
                <select className="input font-mono" data-autofocus data-testid="php-to" value={to} onChange={(e) => setTo(e.target.value)}>
                  {versions.map((v) => <option key={v} value={v}>{v}</option>)}
                </select>
              </label>
            )}
            {error && <ErrorNote>{error}</ErrorNote>}
            <div className="flex justify-end gap-2">
              <button type="button" className="btn" onClick={() => setOpen(false)}>Cancel</button>
              <button type="submit" className="btn-primary" data-testid="php-confirm" disabled={!to}>Switch</button>
            </div>
          </form>
        </Dialog>
      )}
    </>
  );
}
