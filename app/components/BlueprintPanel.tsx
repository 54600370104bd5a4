"use client";

import { useCallback, useEffect, useState } from "react";
import { api, ApiError, csrfToken, formatBytes } from "../_lib/api";
import { useEvents } from "../_lib/events";
import { ErrorNote, type OpEventLite } from "../_components/ui";

/**
 * The instance page's Blueprint panel: upload a blueprint.json or bundle ZIP, paste JSON, or give a URL
 * (only when the host allows URLs), then follow the run step by step on the instance's event stream.
 */

interface BlueprintStatus {
  applied: { hash: string; appliedAt: string } | null;
  last: { status: string; hash: string; changed: boolean; finishedAt: string; error?: string; steps: { index: number; name: string; status: string }[] } | null;
  allowUrls: boolean;
  maxZipBytes: number;
}

type Mode = "file" | "paste" | "url";

const VERSION_RE = /^[0-9]+(\.[0-9]+){0,2}$/;

/**
 * preferredVersions of a blueprint's JSON text ({"php": "8.3", "moodle": "5.0"}), or null. A hint only:
 * the create form offers it when the combination exists.
 */
export function preferredVersions(text: string): { php?: string; moodle?: string } | null {
  if (!text.includes("preferredVersions")) return null;
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return null;
  }
  const pv = (doc as { preferredVersions?: Record<string, unknown> } | null)?.preferredVersions;
  if (!pv || typeof pv !== "object") return null;
  const pick = (v: unknown) => (typeof v === "string" || typeof v === "number") && VERSION_RE.test(String(v)) ? String(v) : undefined;
  const out = { php: pick(pv.php), moodle: pick(pv.moodle) };
  return out.php || out.moodle ? out : null;
}

/** For the create form: apply a blueprint's preferredVersions when the Moodle branch is on offer. */
export function applyPreferredVersions(
  text: string,
  matrix: { branch: string; php: string[] }[] | null,
  setMoodle: (v: string) => void,
  setPhp: (v: string) => void,
): void {
  const pv = preferredVersions(text);
  if (!pv || !matrix) return;
  const branch = pv.moodle ? matrix.find((b) => b.branch === pv.moodle) : undefined;
  if (branch) setMoodle(branch.branch);
  if (pv.php && (branch ?? matrix[matrix.length - 1])?.php.includes(pv.php)) setPhp(pv.php);
}

interface StepRow {
  name: string;
  status: string;
  durationMs?: number;
  args?: string;
  detail?: string;
  error?: string;
}

/** Blueprint steps from the operation's events: "blueprint i/n name" steps, plus the skipped no-ops (log only). */
function rows(events: OpEventLite[]): StepRow[] {
  const out: StepRow[] = [];
  const get = (name: string) => {
    let r = out.find((x) => x.name === name);
    if (!r) {
      r = { name, status: "running" };
      out.push(r);
    }
    return r;
  };
  for (const ev of events) {
    if (!ev.step || !ev.step.startsWith("blueprint ")) continue;
    const r = get(ev.step);
    if (ev.type === "step") {
      r.status = ev.status ?? r.status;
      r.durationMs = ev.durationMs ?? r.durationMs;
      if (ev.status === "failed") r.error = ev.message;
    } else if (ev.type === "log" && ev.message) {
      if (ev.message.startsWith("skipped")) {
        r.status = "skipped";
        r.detail = ev.message;
      } else if (ev.message.startsWith("{")) r.args = ev.message;
      else r.detail = ev.message;
    }
  }
  return out;
}

export default function BlueprintPanel({ name, disabled = false }: { name: string; disabled?: boolean }) {
  const [status, setStatus] = useState<BlueprintStatus | null>(null);
  const [mode, setMode] = useState<Mode>("file");
  const [file, setFile] = useState<File | null>(null);
  const [text, setText] = useState("");
  const [url, setUrl] = useState("");
  const [onError, setOnError] = useState<"abort" | "warn">("abort");
  const [force, setForce] = useState(false);
  const [allowUnsafe, setAllowUnsafe] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [opId, setOpId] = useState<string | null>(null);
  const [events, setEvents] = useState<OpEventLite[]>([]);

  const load = useCallback(() => {
    api<BlueprintStatus>(`/api/v1/instances/${name}/blueprint`).then(setStatus).catch((e: Error) => setError(e.message));
  }, [name]);
  useEffect(load, [load]);

  useEvents(
    {
      op: (d) => {
        const ev = d as OpEventLite;
        if (!opId || ev.opId !== opId) return;
        setEvents((cur) => (cur.some((x) => x.seq === ev.seq) ? cur : [...cur, ev]));
        if (ev.type === "done" || ev.type === "error") load();
      },
    },
    `?instance=${name}`,
    opId !== null,
  );

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    setSubmitting(true);
    try {
      const flags = { onError, force, allowUnsafe };
      let r: { operation: string };
      if (mode === "file") {
        if (!file) throw new Error("choose a blueprint.json or a bundle .zip");
        const head = new Uint8Array(await file.slice(0, 2).arrayBuffer());
        if (head[0] === 0x50 && head[1] === 0x4b) {
          if (status && file.size > status.maxZipBytes) throw new Error(`the bundle is larger than ${formatBytes(status.maxZipBytes)}`);
          r = await uploadZip(name, file, flags);
        } else {
          r = await api(`/api/v1/instances/${name}/blueprint`, { method: "POST", body: { blueprint: await file.text(), ...flags } });
        }
      } else if (mode === "paste") {
        if (!text.trim()) throw new Error("paste a blueprint first");
        r = await api(`/api/v1/instances/${name}/blueprint`, { method: "POST", body: { blueprint: text, ...flags } });
      } else {
        r = await api(`/api/v1/instances/${name}/blueprint`, { method: "POST", body: { url, ...flags } });
      }
      setEvents([]);
      setOpId(r.operation);
    } catch (err) {
      setError(err instanceof Error ? err.message : String(err));
    } finally {
      setSubmitting(false);
    }
  }

  const end = events.find((e) => e.type === "done" || e.type === "error");
  const running = opId !== null && !end;
  const list = rows(events);
  const summary = [...events].reverse().find((e) => e.type === "log" && !e.step?.startsWith("blueprint ") && /^blueprint /.test(e.message ?? ""));

  return (
    <div className="card space-y-4 p-5" data-testid="blueprint-panel">
      <div className="flex flex-wrap items-baseline gap-3">
        <h2 className="text-lg font-semibold">Blueprint</h2>
        <p className="text-sm text-slate-500">
          {status?.applied ? (
            <>Applied <span className="font-mono">{status.applied.hash.slice(0, 12)}</span> at {new Date(status.applied.appliedAt).toLocaleString()}</>
          ) : (
            "No blueprint applied yet."
          )}
          {status?.last && status.last.status !== "applied" && status.last.status !== "unchanged" && (
            <span className="ml-2 text-amber-700 dark:text-amber-400">Last run: {status.last.status}</span>
          )}
        </p>
      </div>

      <form onSubmit={submit} className="space-y-3">
        <div className="flex gap-1" role="tablist">
          {(["file", "paste", "url"] as const)
            .filter((m) => m !== "url" || status?.allowUrls)
            .map((m) => (
              <button key={m} type="button" role="tab" aria-selected={mode === m} onClick={() => setMode(m)} className={mode === m ? "btn-primary" : "btn"}>
                {m === "file" ? "Upload file" : m === "paste" ? "Paste JSON" : "From URL"}
              </button>
            ))}
        </div>
        {mode === "file" && (
          <input type="file" aria-label="Blueprint file (.json or .zip bundle)" accept=".json,.zip,application/json,application/zip" className="text-sm" data-testid="blueprint-file" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
        )}
        {mode === "paste" && (
          <textarea aria-label="Blueprint JSON" className="input h-48 w-full font-mono text-xs" value={text} onChange={(e) => setText(e.target.value)} placeholder='{"steps": [ … ]}' data-testid="blueprint-json" />
        )}
        {mode === "url" && <input type="url" aria-label="Blueprint URL" className="input w-full" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://…/blueprint.json or bundle.zip" />}
        <div className="flex flex-wrap items-center gap-4 text-sm">
          <label className="flex items-center gap-2">
            On error
            <select className="input" value={onError} onChange={(e) => setOnError(e.target.value as "abort" | "warn")} data-testid="blueprint-onerror">
              <option value="abort">abort (stop at the first failure)</option>
              <option value="warn">warn (report and continue)</option>
            </select>
          </label>
          <label className="flex items-center gap-2">
            <input type="checkbox" checked={force} onChange={(e) => setForce(e.target.checked)} /> Re-run even if already applied
          </label>
          <label className="flex items-center gap-2" title="runPhpCode, runPhpScript, writeFile and unzip run arbitrary code or write arbitrary files">
            <input type="checkbox" checked={allowUnsafe} onChange={(e) => setAllowUnsafe(e.target.checked)} /> Allow unsafe steps
          </label>
          <button type="submit" className="btn-primary ml-auto" disabled={disabled || submitting || running} data-testid="blueprint-apply">
            {running ? "Applying…" : "Apply blueprint"}
          </button>
        </div>
      </form>

      {error && <ErrorNote>{error}</ErrorNote>}

      {opId && (
        <div className="space-y-2" data-testid="blueprint-steps">
          <ol className="space-y-1">
            {list.map((s) => (
              <li key={s.name} data-step={s.name} data-step-status={s.status} className="flex items-start gap-3 rounded-lg px-2 py-1 text-sm">
                <span className="mt-0.5 w-5 text-center">
                  {s.status === "done" ? <span className="text-emerald-600">✓</span>
                    : s.status === "failed" ? <span className="text-rose-600">✗</span>
                      : s.status === "skipped" ? <span className="text-slate-500 dark:text-slate-400">–</span>
                        : <span className="inline-block h-3 w-3 animate-spin rounded-full border-2 border-indigo-500 border-t-transparent" />}
                </span>
                <span className="min-w-0 flex-1">
                  <span className="font-medium">{s.name.replace(/^blueprint /, "")}</span>
                  {s.durationMs !== undefined && <span className="ml-2 font-mono text-xs text-slate-500">{(s.durationMs / 1000).toFixed(1)} s</span>}
                  {s.detail && <span className="block truncate text-xs text-slate-500">{s.detail}</span>}
                  {s.error && <span className="block text-rose-700 dark:text-rose-300">{s.error}</span>}
                  {s.args && <span className="block truncate font-mono text-xs text-slate-500 dark:text-slate-400" title={s.args}>{s.args}</span>}
                </span>
              </li>
            ))}
          </ol>
          {summary && <p className="text-sm text-slate-600 dark:text-slate-400" data-testid="blueprint-summary">{summary.message}</p>}
          {end?.type === "error" && <ErrorNote>{end.message}</ErrorNote>}
        </div>
      )}
    </div>
  );
}

/** A bundle ZIP goes as the raw body; its options travel in the query string. */
async function uploadZip(name: string, file: File, flags: { onError: string; force: boolean; allowUnsafe: boolean }): Promise<{ operation: string }> {
  const q = new URLSearchParams({ onError: flags.onError, force: flags.force ? "1" : "0", allowUnsafe: flags.allowUnsafe ? "1" : "0" });
  const res = await fetch(`/api/v1/instances/${name}/blueprint?${q}`, {
    method: "POST",
    headers: { accept: "application/json", "content-type": "application/zip", "x-mdind-csrf": csrfToken() },
    body: file,
    credentials: "same-origin",
  });
  const data = (await res.json().catch(() => null)) as { operation?: string; error?: { message?: string; kind?: string; field?: string } } | null;
  if (!res.ok || !data?.operation) throw new ApiError(data?.error?.message ?? `HTTP ${res.status}`, res.status, data?.error?.kind, data?.error?.field);
  return { operation: data.operation };
}
