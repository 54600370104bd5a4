"use client";

import { useCallback, useEffect, useState } from "react";
import type { PreloadFile, PreloadState } from "@/lib/images/preload";
import { api, formatBytes } from "../../_lib/api";
import { ErrorNote, Mono } from "../../_components/ui";

const BADGE: Record<PreloadFile["status"], string> = {
  pending: "bg-slate-200 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
  checking: "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
  loading: "bg-sky-100 text-sky-800 dark:bg-sky-950 dark:text-sky-300",
  loaded: "bg-emerald-100 text-emerald-800 dark:bg-emerald-950 dark:text-emerald-300",
  skipped: "bg-slate-200 text-slate-700 dark:bg-slate-800 dark:text-slate-300",
  failed: "bg-rose-100 text-rose-800 dark:bg-rose-950 dark:text-rose-300",
};

function seconds(f: PreloadFile, now: number): number | null {
  if (!f.startedAt) return null;
  const end = f.finishedAt ? Date.parse(f.finishedAt) : now;
  return Math.max((end - Date.parse(f.startedAt)) / 1000, 0);
}

/** MB/s: the loader's own figure once loaded, else bytes read so far over the time since start. */
function rate(f: PreloadFile, now: number): string {
  if (f.mbPerSec !== undefined) return `${f.mbPerSec} MB/s`;
  const s = seconds(f, now);
  if (f.status !== "loading" || !s) return "—";
  return `${(f.read / 1048576 / s).toFixed(1)} MB/s`;
}

/**
 * The shared-images preload: every tarball the host loaded, skipped or failed on, with the reason,
 * bytes and rate; polled once a second while a run is in progress; "Run again" starts a new run.
 */
export default function PreloadPanel() {
  const [st, setSt] = useState<{ state: PreloadState; at: number } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [starting, setStarting] = useState(false);

  const load = useCallback(() => {
    api<PreloadState>("/api/v1/preload")
      .then((state) => setSt({ state, at: Date.now() }))
      .catch((e: Error) => setError(e.message));
  }, []);
  useEffect(load, [load]);
  const running = st?.state.running ?? false;
  useEffect(() => {
    if (!running) return;
    const t = setInterval(load, 1000);
    return () => clearInterval(t);
  }, [running, load]);

  async function runAgain() {
    setError(null);
    setStarting(true);
    try {
      await api("/api/v1/preload", { method: "POST", body: {} });
      load();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setStarting(false);
    }
  }

  const files = st?.state.files ?? [];
  const count = (s: PreloadFile["status"]) => files.filter((f) => f.status === s).length;
  return (
    <section className="card space-y-3 p-4" aria-labelledby="preload-title" data-testid="preload">
      <div className="flex flex-wrap items-center gap-3">
        <h2 id="preload-title" className="font-semibold">Preload from shared-images</h2>
        {st && (
          <span className="text-sm text-slate-600 dark:text-slate-300" data-testid="preload-summary">
            {running ? "running… " : ""}
            {count("loaded")} loaded · {count("skipped")} skipped · {count("failed")} failed
            {st.state.dir && <> · <Mono>{st.state.dir}</Mono></>}
          </span>
        )}
        <button type="button" className="btn ml-auto" disabled={running || starting} onClick={runAgain}>
          {running ? "Preload running…" : "Run preload again"}
        </button>
      </div>
      {error && <ErrorNote>{error}</ErrorNote>}
      {st && files.length === 0 && (
        <p className="text-sm text-slate-600 dark:text-slate-300">
          {st.state.startedAt ? "No .tar files in the folder at the last run." : "No preload has run since the dashboard started."} Put <Mono>docker save</Mono> archives in the shared-images folder and run it again.
        </p>
      )}
      {files.length > 0 && (
        <div className="overflow-x-auto">
          <table className="w-full text-sm">
            <thead className="text-left text-xs uppercase text-slate-500 dark:text-slate-400">
              <tr>
                <th className="px-3 py-2">File</th>
                <th className="px-3 py-2">Images</th>
                <th className="px-3 py-2">State</th>
                <th className="px-3 py-2">Reason</th>
                <th className="px-3 py-2 text-right">Bytes</th>
                <th className="px-3 py-2 text-right">Rate</th>
                <th className="px-3 py-2 text-right">Took</th>
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
              {files.map((f) => {
                const took = seconds(f, st!.at);
                const pct = f.size > 0 ? Math.min(100, Math.round((f.read / f.size) * 100)) : 0;
                return (
                  <tr key={f.file} data-preload-file={f.file} data-preload-status={f.status}>
                    <td className="whitespace-nowrap px-3 py-2"><Mono>{f.file}</Mono></td>
                    <td className="px-3 py-2 font-mono text-xs">{f.tags.join(", ") || "—"}</td>
                    <td className="px-3 py-2">
                      <span className={`rounded-full px-2 py-0.5 text-xs font-semibold ${BADGE[f.status]}`}>{f.status}</span>
                      {f.status === "loading" && (
                        <progress className="ml-2 h-2 w-24 align-middle" max={100} value={pct} aria-label={`${f.file} loaded ${pct} %`} />
                      )}
                    </td>
                    <td className="max-w-md px-3 py-2 text-xs text-slate-600 dark:text-slate-300" data-testid="preload-reason">{f.error ?? f.reason ?? "—"}</td>
                    <td className="whitespace-nowrap px-3 py-2 text-right"><Mono>{f.status === "skipped" ? formatBytes(f.size) : `${formatBytes(f.read)} / ${formatBytes(f.size)}`}</Mono></td>
                    <td className="whitespace-nowrap px-3 py-2 text-right"><Mono>{rate(f, st!.at)}</Mono></td>
                    <td className="whitespace-nowrap px-3 py-2 text-right"><Mono>{took === null ? "—" : `${took.toFixed(1)} s`}</Mono></td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
    </section>
  );
}
