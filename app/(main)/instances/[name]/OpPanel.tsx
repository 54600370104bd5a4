"use client";

import { formatBytes } from "../../../_lib/api";
import { ErrorNote, Mono, StepList, type OpEventLite } from "../../../_components/ui";
import type { PanelOp } from "./ops";

/** The operation panel: the server's steps, the browser's own progress (a download), then one result line. */
export default function OpPanel({ op, events, running, onDismiss }: { op: PanelOp; events: OpEventLite[]; running: boolean; onDismiss: () => void }) {
  const p = op.progress;
  return (
    <div className="card p-4" data-testid="op-panel" role="region" aria-label={`Operation: ${op.label}`} aria-busy={running}>
      <div className="mb-2 flex items-center justify-between">
        <h2 className="text-sm font-semibold first-letter:uppercase">{op.label}</h2>
        {!running && <button type="button" className="text-xs text-slate-500 hover:underline" onClick={onDismiss}>dismiss</button>}
      </div>
      <StepList events={events} />
      {p && (
        <div className="mt-2 space-y-1 text-sm" data-testid="op-progress">
          <progress className="w-full" max={p.total || undefined} value={p.done} aria-label={`${p.what} progress`} />
          <Mono>{p.what}: {formatBytes(p.done)}{p.total ? ` of ${formatBytes(p.total)} (${Math.round((100 * p.done) / p.total)} %)` : ""}</Mono>
        </div>
      )}
      {op.error && <ErrorNote>{op.error}</ErrorNote>}
      <div aria-live="polite">{op.result && <p className="mt-2 text-sm font-medium text-emerald-700 dark:text-emerald-400" data-testid="op-result">{op.result}</p>}</div>
    </div>
  );
}
