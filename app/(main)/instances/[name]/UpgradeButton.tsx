"use client";

import Link from "next/link";
import { useState } from "react";
import { api } from "../../../_lib/api";
import { useEvents } from "../../../_lib/events";
import type { InstanceView } from "../../../_lib/types";
import { ErrorNote, Mono, StepList, type OpEventLite } from "../../../_components/ui";
import { Dialog } from "../../../_components/Dialog";
import type { Build } from "../../moodle/MoodleView";

/**
 * "Upgrade": pick a newer library build, optionally rehearse on a clone, confirm. In place, the
 * operation's steps show in the page's operation panel (onStarted). On a clone they run on the
 * clone's channel (the clone, then the upgrade), so this follows them itself, with a link there.
 */
const branchNum = (b: string) => {
  const [maj, min] = b.split(".").map(Number);
  return maj * 100 + (min || 0);
};
/** The build id names its $version: <branch>-<version>-<hash>. */
const versionOf = (id: string | null) => (id ? Number(id.split("-")[1]) : Number.NaN);

export default function UpgradeButton({ view, busy, onStarted }: { view: InstanceView; busy: boolean; onStarted: (opId: string, label: string) => void }) {
  const [open, setOpen] = useState(false);
  const [builds, setBuilds] = useState<Build[] | null>(null);
  const [to, setTo] = useState("");
  const [clone, setClone] = useState(false);
  const [cloneName, setCloneName] = useState(`${view.name}-next`.slice(0, 32));
  const [error, setError] = useState<string | null>(null);
  const [rehearsal, setRehearsal] = useState<{ name: string; first: string; events: OpEventLite[] } | null>(null);

  useEvents(
    {
      op: (d) => {
        const ev = d as OpEventLite;
        if (!rehearsal || ev.instance !== rehearsal.name) return;
        // The clone's operation, then the upgrade that follows it on the same channel; the clone's
        // own "done" is not the end. Older operations of a name used before are left out.
        const mine = ev.opId === rehearsal.first ? ev.type !== "done" : ev.op === "upgrade" && rehearsal.events.some((x) => x.opId === rehearsal.first);
        if (!mine) return;
        setRehearsal((r) => (r && !r.events.some((x) => x.seq === ev.seq) ? { ...r, events: [...r.events, ev] } : r));
      },
    },
    rehearsal ? `?instance=${rehearsal.name}` : "",
    rehearsal !== null,
  );

  function show() {
    setError(null);
    setOpen(true);
    api<{ builds: Build[] }>("/api/v1/moodle")
      .then((r) => {
        const newer = r.builds.filter((b) => /^\d\.\d{1,2}$/.test(b.branch) && branchNum(b.branch) >= branchNum(view.moodle) && Number(b.version) > versionOf(view.build));
        setBuilds(newer);
        setTo((cur) => cur || newer[0]?.id || "");
      })
      .catch((e: Error) => setError(e.message));
  }

  async function start() {
    setError(null);
    try {
      const body = clone ? { to, clone: cloneName } : { to };
      const r = await api<{ name: string; operation: string }>(`/api/v1/instances/${view.name}/upgrade`, { method: "POST", body });
      const release = builds?.find((b) => b.id === to)?.release ?? to;
      setOpen(false);
      if (clone) setRehearsal({ name: r.name, first: r.operation, events: [] });
      else onStarted(r.operation, `upgrade to ${release}`);
    } catch (e) {
      setError((e as Error).message);
    }
  }

  return (
    <>
      <button type="button" className="btn" data-testid="upgrade-open" disabled={busy || view.status !== "running"} onClick={show}>
        Upgrade{view.upgrade?.available ? " ●" : ""}
      </button>
      {rehearsal && (
        <div className="card fixed bottom-4 right-4 z-10 w-96 p-4" data-testid="upgrade-rehearsal">
          <div className="mb-2 flex items-center justify-between text-sm font-semibold">
            <span>Rehearsal on <Link href={`/instances/${rehearsal.name}`} className="font-mono text-indigo-700 hover:underline dark:text-indigo-300">{rehearsal.name}</Link></span>
            <button type="button" className="text-xs text-slate-500 hover:underline" onClick={() => setRehearsal(null)}>dismiss</button>
          </div>
          <StepList events={rehearsal.events} />
        </div>
      )}
      {open && (
        <Dialog
          title={`Upgrade ${view.name}`}
          description={<>From <Mono>{view.release}</Mono>. Moodle&apos;s own rules are checked first; then a snapshot, maintenance mode, the new code, Moodle&apos;s upgrade.php. If anything fails, the snapshot is restored automatically.</>}
          onClose={() => setOpen(false)}
          testId="upgrade-dialog"
        >
          {builds === null && !error && <div className="skeleton h-9 w-full" />}
          {builds?.length === 0 && <p className="text-sm text-slate-500">The library has no newer build. Add one on the <Link href="/moodle" className="text-indigo-700 hover:underline dark:text-indigo-300">Moodle page</Link>.</p>}
          {builds && builds.length > 0 && (
            <label className="block space-y-1 text-sm">
              <span>Target build</span>
              <select className="input font-mono" data-autofocus data-testid="upgrade-to" value={to} onChange={(e) => setTo(e.target.value)}>
                {builds.map((b) => <option key={b.id} value={b.id}>{b.release} · {b.id}</option>)}
              </select>
            </label>
          )}
          <label className="flex items-center gap-2 text-sm">
            <input type="checkbox" checked={clone} onChange={(e) => setClone(e.target.checked)} data-testid="upgrade-clone" />
            Rehearse on a clone (this site stays as it is)
          </label>
          {clone && <input className="input font-mono" aria-label="Clone name" value={cloneName} onChange={(e) => setCloneName(e.target.value)} />}
          {error && <ErrorNote>{error}</ErrorNote>}
          <div className="flex justify-end gap-2">
            <button type="button" className="btn" onClick={() => setOpen(false)}>Cancel</button>
            <button type="button" className="btn-primary" data-testid="upgrade-confirm" disabled={!to || (clone && !cloneName)} onClick={start}>
              {clone ? "Clone and upgrade" : "Upgrade"}
            </button>
          </div>
        </Dialog>
      )}
    </>
  );
}
