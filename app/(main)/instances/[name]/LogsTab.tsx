"use client";

import { useEffect, useRef, useState } from "react";
import { ErrorNote } from "../../../_components/ui";

const SERVICES = ["app", "web", "db", "cron"] as const;
const MAX_LINES = 5000;

interface LogFile {
  service: string;
  path: string;
  file: string;
  size: number;
  mtime: string;
}

/**
 * Live logs: a streamed fetch (follow=1), filtered on the server by a plain substring. Each
 * service's log files (fpm.log, access.log …) are offered next to its container output.
 */
export default function LogsTab({ name }: { name: string }) {
  const [service, setService] = useState<(typeof SERVICES)[number]>("app");
  const [files, setFiles] = useState<LogFile[] | null>(null);
  // The source the user picked from this file list; choosing another service forgets it.
  const [picked, setPicked] = useState<{ files: LogFile[] | null; path: string } | null>(null);
  const [q, setQ] = useState("");
  const [query, setQuery] = useState("");
  const [follow, setFollow] = useState(true);
  const [lines, setLines] = useState<string[]>([]);
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => {
    const t = setTimeout(() => setQuery(q), 300);
    return () => clearTimeout(t);
  }, [q]);

  useEffect(() => {
    fetch(`/api/v1/instances/${name}/logs/files`)
      .then((r) => (r.ok ? r.json() : { files: [] }))
      .then((d: { files: LogFile[] }) => setFiles(d.files))
      .catch(() => setFiles([]));
  }, [name]);

  const mine = (files ?? []).filter((f) => f.service === service);
  // Default source: the service's most recently written file, else its container output. A new
  // file list or another service brings the default back.
  const newest = [...mine].sort((a, b) => b.mtime.localeCompare(a.mtime))[0];
  const source = picked && picked.files === files ? picked.path : files === null ? null : newest ? newest.path : "";

  // A new stream starts empty and loading (reset while rendering, not in the effect).
  const streamKey = source === null ? null : JSON.stringify([name, service, query, follow, source]);
  const [shownKey, setShownKey] = useState(streamKey);
  if (streamKey !== shownKey) {
    setShownKey(streamKey);
    if (streamKey !== null) {
      setLines([]);
      setError(null);
      setLoading(true);
    }
  }

  useEffect(() => {
    if (source === null) return;
    const ctl = new AbortController();
    const params = new URLSearchParams({ service, tail: "500", follow: follow ? "1" : "0" });
    if (query) params.set("q", query);
    if (source) params.set("file", source);
    (async () => {
      const res = await fetch(`/api/v1/instances/${name}/logs?${params}`, { signal: ctl.signal });
      if (!res.ok || !res.body) {
        const body = await res.json().catch(() => null);
        throw new Error(body?.error?.message ?? `HTTP ${res.status}`);
      }
      setLoading(false);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let partial = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        partial += value;
        const parts = partial.split("\n");
        partial = parts.pop() ?? "";
        if (parts.length) setLines((cur) => [...cur, ...parts].slice(-MAX_LINES));
      }
    })().catch((e: Error) => {
      if (e.name !== "AbortError") setError(e.message);
      setLoading(false);
    });
    return () => ctl.abort();
  }, [name, service, query, follow, source]);

  useEffect(() => {
    const el = box.current;
    if (el && el.scrollHeight - el.scrollTop - el.clientHeight < 120) el.scrollTop = el.scrollHeight;
  }, [lines]);

  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-2">
        <div className="flex rounded-lg border border-slate-300 p-0.5 dark:border-slate-700" role="group" aria-label="Service">
          {SERVICES.map((s) => (
            <button
              key={s}
              type="button"
              onClick={() => {
                if (s !== service) setPicked(null);
                setService(s);
              }}
              className={`rounded-md px-3 py-1 text-sm font-medium ${service === s ? "bg-indigo-600 text-white" : "text-slate-600 dark:text-slate-300"}`}
            >
              {s}
            </button>
          ))}
        </div>
        <select className="input w-auto font-mono text-xs" aria-label="Log source" value={source ?? ""} onChange={(e) => setPicked({ files, path: e.target.value })}>
          {mine.map((f) => <option key={f.path} value={f.path}>{f.path}</option>)}
          <option value="">container output</option>
        </select>
        <input className="input max-w-xs" placeholder="Search…" aria-label="Search logs" maxLength={200} value={q} onChange={(e) => setQ(e.target.value)} />
        <label className="flex items-center gap-2 text-sm">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> Follow
        </label>
        <span className="ml-auto font-mono text-xs text-slate-500">{lines.length} lines</span>
      </div>
      {error && <ErrorNote>{error}</ErrorNote>}
      <pre ref={box} data-testid="logs" className="h-[28rem] overflow-auto rounded-xl bg-slate-950 p-4 font-mono text-xs leading-relaxed text-slate-200">
        {loading ? "Loading…" : lines.length ? lines.join("\n") : `No ${query ? "matching " : ""}lines in ${source || `${service} container output`} yet.`}
      </pre>
    </div>
  );
}
