"use client";

import type { ReactNode } from "react";

/** Small shared pieces: status badges, health dots, empty states, progress lists. */
const STATUS_STYLE: Record<string, string> = {
  running: "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300",
  stopped: "bg-slate-200 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
  partial: "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300",
  creating: "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
  installing: "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
  busy: "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
  removing: "bg-rose-100 text-rose-800 dark:bg-rose-950 dark:text-rose-300",
  failed: "bg-rose-100 text-rose-800 dark:bg-rose-950 dark:text-rose-300",
};

export function StatusBadge({ status }: { status: string }) {
  const spinning = ["creating", "installing", "busy", "removing"].includes(status);
  return (
    <span data-testid="status" data-status={status} className={`inline-flex items-center gap-1.5 rounded-full px-2.5 py-0.5 text-xs font-semibold ${STATUS_STYLE[status] ?? STATUS_STYLE.stopped}`}>
      {spinning && <span className="h-2 w-2 animate-ping rounded-full bg-current opacity-60" />}
      {status}
    </span>
  );
}

export function HealthDot({ state, health, label }: { state: string; health: string | null; label?: string }) {
  const color =
    state !== "running" ? (state === "missing" ? "bg-rose-500" : "bg-slate-400")
      : health === "unhealthy" ? "bg-rose-500"
        : health === "starting" ? "bg-amber-400"
          : "bg-emerald-500";
  const title = `${label ? `${label}: ` : ""}${state}${health ? ` (${health})` : ""}`;
  return (
    <span title={title} className="inline-flex items-center gap-1 font-mono text-xs text-slate-600 dark:text-slate-400">
      <span className={`h-2 w-2 rounded-full ${color}`} />
      {label}
    </span>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="card flex flex-col items-center justify-center gap-3 px-6 py-16 text-center">
      <div className="flex h-12 w-12 items-center justify-center rounded-full bg-indigo-50 text-2xl dark:bg-indigo-950">◇</div>
      <h2 className="text-lg font-semibold">{title}</h2>
      {children && <div className="max-w-md text-sm text-slate-500 dark:text-slate-400">{children}</div>}
      {action}
    </div>
  );
}

export function ErrorNote({ children }: { children: ReactNode }) {
  return (
    <div role="alert" className="whitespace-pre-wrap rounded-lg border border-rose-200 bg-rose-50 px-3 py-2 text-sm text-rose-800 dark:border-rose-900 dark:bg-rose-950 dark:text-rose-200">
      {children}
    </div>
  );
}

export interface OpEventLite {
  seq: number;
  ts: string;
  opId: string;
  instance: string;
  op: string;
  type: "start" | "step" | "log" | "done" | "error";
  step?: string;
  status?: "running" | "done" | "failed" | "skipped";
  message?: string;
  durationMs?: number;
}

/** An operation's events as a checklist of steps, each with its latest log line. */
export function StepList({ events }: { events: OpEventLite[] }) {
  const steps: { name: string; status: string; durationMs?: number; message?: string; last?: string }[] = [];
  for (const ev of events) {
    if (ev.type === "step" && ev.step) {
      let s = steps.find((x) => x.name === ev.step);
      if (!s) {
        s = { name: ev.step, status: "running" };
        steps.push(s);
      }
      s.status = ev.status ?? s.status;
      s.durationMs = ev.durationMs ?? s.durationMs;
      if (ev.message) s.message = ev.message;
    } else if (ev.type === "log" && ev.step) {
      const s = steps.find((x) => x.name === ev.step);
      if (s) s.last = ev.message;
    }
  }
  const end = events.find((e) => e.type === "done" || e.type === "error");
  return (
    <div className="space-y-2" data-testid="steps">
      <ol className="space-y-1.5">
        {steps.map((s) => (
          <li key={s.name} data-step={s.name} data-step-status={s.status} className="flex items-start gap-3 rounded-lg px-2 py-1.5 text-sm">
            <span className="mt-0.5 w-5 text-center">
              {s.status === "done" ? <span className="text-emerald-600">✓</span>
                : s.status === "failed" ? <span className="text-rose-600">✗</span>
                  : s.status === "skipped" ? <span className="text-slate-500 dark:text-slate-400">–</span>
                    : <span className="inline-block h-3 w-3 animate-spin rounded-full border-2 border-indigo-500 border-t-transparent" />}
            </span>
            <span className="flex-1">
              <span className="font-medium">{s.name}</span>
              {s.durationMs !== undefined && <span className="ml-2 font-mono text-xs text-slate-500">{(s.durationMs / 1000).toFixed(1)} s</span>}
              {s.status === "failed" && s.message && <span className="block text-rose-700 dark:text-rose-300">{s.message}</span>}
              {s.status === "running" && s.last && <span className="block truncate font-mono text-xs text-slate-500">{s.last}</span>}
            </span>
          </li>
        ))}
      </ol>
      {end?.type === "error" && <ErrorNote>{end.message}</ErrorNote>}
      {end?.type === "done" && <p className="text-sm font-medium text-emerald-700 dark:text-emerald-400" data-testid="op-done">Done in {((end.durationMs ?? 0) / 1000).toFixed(1)} s</p>}
    </div>
  );
}

export function Mono({ children }: { children: ReactNode }) {
  return <span className="font-mono text-[13px]">{children}</span>;
}
