"use client";

import { useCallback, useEffect, useState } from "react";
import { api, formatBytes } from "../../_lib/api";
import { useEvents } from "../../_lib/events";
import { ErrorNote, Mono, StepList, type OpEventLite } from "../../_components/ui";
import BuildProgress from "./BuildProgress";
import PreloadPanel from "./PreloadPanel";

interface ImageRow {
  kind: string;
  version: string;
  suite: string;
  ref: string;
  present: boolean;
  upToDate: boolean;
  exact?: string;
  sizeBytes?: number;
  created?: string;
}

/** The catalog: what is present and what is missing, build with progress, save as tars, the shared-images preload. */
export default function ImagesView() {
  const [rows, setRows] = useState<ImageRow[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [op, setOp] = useState<{ id: string; label: string; total: number } | null>(null);
  const [events, setEvents] = useState<OpEventLite[]>([]);

  const load = useCallback(() => {
    api<{ images: ImageRow[]; operation: { id: string; op: string } | null }>("/api/v1/images")
      .then((r) => {
        setRows(r.images);
        if (r.operation) setOp((cur) => cur ?? { id: r.operation!.id, label: r.operation!.op, total: 0 });
      })
      .catch((e: Error) => setError(e.message));
  }, []);
  useEffect(load, [load]);

  useEvents(
    {
      op: (d) => {
        const ev = d as OpEventLite;
        if (!op || ev.opId !== op.id) return;
        setEvents((cur) => (cur.some((x) => x.seq === ev.seq) ? cur : [...cur, ev]));
        if (ev.type === "done" || ev.type === "error") load();
      },
    },
    "?instance=_images&after=0",
    op !== null,
  );

  async function start(path: string, body: unknown, label: string, total = 0) {
    setError(null);
    try {
      const r = await api<{ operation: string }>(path, { method: "POST", body });
      setEvents([]);
      setOp({ id: r.operation, label, total });
    } catch (e) {
      setError((e as Error).message);
    }
  }

  const running = op !== null && !events.some((e) => e.type === "done" || e.type === "error");
  const missing = (rows ?? []).filter((r) => !r.present);
  return (
    <div className="space-y-5">
      <div className="flex items-center gap-3">
        <h1 className="text-2xl font-semibold">Images</h1>
        {rows && (
          <span className="text-sm text-slate-600 dark:text-slate-300" data-testid="catalog-summary">
            {rows.length - missing.length} of {rows.length} present · {missing.length} missing
          </span>
        )}
        <div className="ml-auto flex gap-2">
          {missing.length > 0 && (
            <button type="button" className="btn" disabled={running} onClick={() => start("/api/v1/images/build", { specs: missing.map((r) => `${r.kind}:${r.version}`) }, `build ${missing.length} missing`, missing.length)}>
              Build missing ({missing.length})
            </button>
          )}
          <button type="button" className="btn" disabled={running} onClick={() => start("/api/v1/images/save", {}, "save to shared-images")}>Save all to shared-images</button>
        </div>
      </div>
      {error && <ErrorNote>{error}</ErrorNote>}
      {op && (
        <section className="card space-y-2 p-4" aria-label={`Operation: ${op.label}`} data-testid="image-op">
          <h2 className="text-sm font-semibold">{op.label}</h2>
          <StepList events={events} />
          <BuildProgress events={events} total={op.total} />
        </section>
      )}
      {!rows && !error && <div className="skeleton h-64 w-full" />}
      {rows && (
        <div className="card overflow-x-auto">
          <table className="w-full text-sm">
            <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800">
              <tr><th className="px-4 py-3">Image</th><th className="px-4 py-3">Suite</th><th className="px-4 py-3">State</th><th className="px-4 py-3">Exact version</th><th className="px-4 py-3 text-right">Size</th><th className="px-4 py-3"><span className="sr-only">Actions</span></th></tr>
            </thead>
            <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
              {rows.map((r) => (
                <tr key={r.ref} data-image={`${r.kind}:${r.version}`} data-present={r.present}>
                  <td className="px-4 py-3"><Mono>{r.ref}</Mono></td>
                  <td className="px-4 py-3 text-slate-500">{r.suite}</td>
                  <td className="px-4 py-3">
                    {r.present ? (
                      <span className={`rounded-full px-2 py-0.5 text-xs font-semibold ${r.upToDate ? "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300" : "bg-amber-100 text-amber-800 dark:bg-amber-950 dark:text-amber-300"}`}>
                        {r.upToDate ? "ready" : "outdated recipe"}
                      </span>
                    ) : (
                      <span className="rounded-full bg-slate-200 px-2 py-0.5 text-xs font-semibold text-slate-700 dark:bg-slate-800 dark:text-slate-300">missing</span>
                    )}
                  </td>
                  <td className="px-4 py-3"><Mono>{r.exact ?? "—"}</Mono></td>
                  <td className="px-4 py-3 text-right"><Mono>{formatBytes(r.sizeBytes)}</Mono></td>
                  <td className="px-4 py-3 text-right">
                    <button type="button" className="btn" disabled={running} onClick={() => start("/api/v1/images/build", { specs: [`${r.kind}:${r.version}`] }, `build ${r.kind}:${r.version}`, 1)} aria-label={`${r.present ? "Rebuild" : "Build"} ${r.kind}:${r.version}`}>
                      {r.present ? "Rebuild" : "Build"}
                    </button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <PreloadPanel />
    </div>
  );
}
