"use client";

import { useCallback, useEffect, useRef, useState } from "react";
import { api, csrfToken, formatBytes } from "../../_lib/api";
import { useEvents } from "../../_lib/events";
import { ErrorNote, Mono, StepList, type OpEventLite } from "../../_components/ui";
import { Dialog } from "../../_components/Dialog";

export interface Build {
  id: string;
  branch: string;
  release: string;
  version: string;
  origin: string;
  originDetail: string;
  addedAt: string;
  sizeBytes: number;
  vendor: boolean;
  usedBy: string[];
}

interface Transfer {
  label: string;
  sent: number;
  total: number;
  /** The body is sent; the server is unpacking and checking it. */
  sentAll?: boolean;
  rate: number;
}

const CHANNEL = "_moodle";

/**
 * Upload a package with XMLHttpRequest: fetch() has no upload progress. The body is the file
 * itself (streamed to disk by the server, with a size cap), never a multipart form.
 */
function upload(file: File, onProgress: (t: Transfer) => void): Promise<{ operation?: string }> {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    const started = performance.now();
    xhr.open("POST", `/api/v1/moodle/upload?filename=${encodeURIComponent(file.name)}`);
    xhr.setRequestHeader("x-mdind-csrf", csrfToken());
    xhr.setRequestHeader("content-type", "application/octet-stream");
    xhr.upload.onprogress = (e) => {
      const secs = Math.max((performance.now() - started) / 1000, 0.001);
      onProgress({ label: `Uploading ${file.name}`, sent: e.loaded, total: e.total || file.size, rate: e.loaded / secs });
    };
    // Every byte is on the server: its own steps (unpack, check, store) follow on the library channel.
    xhr.upload.onload = () => {
      const secs = Math.max((performance.now() - started) / 1000, 0.001);
      onProgress({ label: `Uploaded ${file.name}`, sent: file.size, total: file.size, rate: file.size / secs, sentAll: true });
    };
    xhr.onload = () => {
      let body: { operation?: string; error?: { message?: string } } = {};
      try {
        body = JSON.parse(xhr.responseText || "{}");
      } catch {
        body = { error: { message: xhr.responseText } };
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new Error(body.error?.message ?? `HTTP ${xhr.status}`));
    };
    xhr.onerror = () => reject(new Error("the upload was interrupted"));
    xhr.send(file);
  });
}

function Progress({ t }: { t: Transfer }) {
  const pct = t.total > 0 ? Math.min(100, Math.round((t.sent / t.total) * 100)) : 0;
  return (
    <div className="space-y-1" data-testid="upload-progress">
      <div className="flex justify-between text-xs text-slate-500">
        <span>{t.label}</span>
        <span>{formatBytes(t.sent)} of {formatBytes(t.total)} · {formatBytes(t.rate)}/s · {pct} %</span>
      </div>
      <div className="h-2 w-full overflow-hidden rounded-full bg-slate-200 dark:bg-slate-800" role="progressbar" aria-label={t.label} aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
        <div className="h-full bg-indigo-500 transition-all" style={{ width: `${pct}%` }} />
      </div>
    </div>
  );
}

/** The library of Moodle builds: what is there, who uses it, and the ways to add one. */
export default function MoodleView() {
  const [builds, setBuilds] = useState<Build[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [transfer, setTransfer] = useState<Transfer | null>(null);
  const [op, setOp] = useState<{ id: string; label: string } | null>(null);
  const [events, setEvents] = useState<OpEventLite[]>([]);
  const [version, setVersion] = useState("");
  const [confirming, setConfirming] = useState<Build | null>(null);

  const load = useCallback(() => {
    api<{ builds: Build[] }>("/api/v1/moodle")
      .then((r) => setBuilds(r.builds))
      .catch((e: Error) => setError(e.message));
  }, []);
  useEffect(load, [load]);

  // Once an upload's bytes are all sent, the server's steps run before it answers with their
  // operation id. The library runs one operation at a time, so the one that has started and not
  // ended on its channel is this upload's: adopt it and show its steps live.
  const early = useRef<OpEventLite[]>([]);
  const adopted = useRef<string | null>(null);
  // Operations the channel had before this upload: the stream replays their events first (a start,
  // then its end), and an earlier upload's start must never be taken for this one's.
  const known = useRef<Set<string>>(new Set());
  const adopt = (ev: OpEventLite) => {
    if (early.current.some((e) => e.seq === ev.seq)) return; // a reconnect replays what we have
    early.current.push(ev);
    if (!adopted.current) {
      const ended = new Set(early.current.filter((e) => e.type === "done" || e.type === "error").map((e) => e.opId));
      const running = early.current.find((e) => e.type === "start" && e.op === "upload" && !ended.has(e.opId) && !known.current.has(e.opId));
      if (!running) return;
      adopted.current = running.opId;
      setOp({ id: running.opId, label: transfer ? transfer.label.replace(/^Uploaded /, "Adding ") : "Adding the package" });
    }
    // The adopted op's later events, its end included, can arrive here too (before this render's
    // handler knows the op): a small package ends within the same burst.
    showAdopted((ev.type === "done" || ev.type === "error") && ev.opId === adopted.current);
  };
  /** Shows the adopted operation's events heard so far, and reloads the library if it has ended. */
  const showAdopted = (ended: boolean) => {
    setEvents(early.current.filter((e) => e.opId === adopted.current));
    if (ended) load();
  };
  useEvents(
    {
      op: (d) => {
        const ev = d as OpEventLite;
        if (!op) {
          if (transfer?.sentAll) adopt(ev);
          return;
        }
        if (ev.opId !== op.id) return;
        setEvents((cur) => (cur.some((x) => x.seq === ev.seq) ? cur : [...cur, ev]));
        if (ev.type === "done" || ev.type === "error") load();
      },
    },
    `?instance=${CHANNEL}&after=0`,
    op !== null || transfer?.sentAll === true,
  );

  const finished = events.find((e) => e.type === "done" || e.type === "error");
  const busy = transfer !== null || (op !== null && !finished);
  const lastLog = [...events].reverse().find((e) => e.type === "log")?.message;

  async function onFile(file: File | undefined) {
    if (!file) return;
    setError(null);
    setEvents([]);
    setOp(null);
    early.current = [];
    adopted.current = null;
    try {
      const before = await api<{ operations: { id: string }[] }>(`/api/v1/operations?instance=${CHANNEL}`).catch(() => ({ operations: [] }));
      known.current = new Set(before.operations.map((o) => o.id));
      const r = await upload(file, setTransfer);
      const id = r.operation;
      if (id && adopted.current !== id) {
        // The answer names the operation: show its own events, whatever was adopted before.
        adopted.current = id;
        showAdopted(early.current.some((e) => e.opId === id && (e.type === "done" || e.type === "error")));
      }
      if (id) setOp((cur) => (cur?.id === id ? cur : { id, label: `Adding ${file.name}` }));
      else load();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setTransfer(null);
    }
  }

  async function download(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    setEvents([]);
    try {
      const r = await api<{ operation: string }>("/api/v1/moodle/download", { method: "POST", body: { version: version.trim() } });
      setOp({ id: r.operation, label: `Downloading Moodle ${version.trim()}` });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  async function remove(b: Build) {
    setConfirming(null);
    setError(null);
    try {
      await api(`/api/v1/moodle/${encodeURIComponent(b.id)}`, { method: "DELETE" });
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <div className="space-y-5">
      <div className="flex items-center gap-3">
        <h1 className="text-2xl font-semibold">Moodle builds</h1>
      </div>
      <p className="max-w-3xl text-sm text-slate-600 dark:text-slate-400">
        Every instance runs one of these builds. Each is stored once, read-only, and shared by the instances that use it.
        Add one by uploading an official package (<Mono>.tgz</Mono> or <Mono>.zip</Mono>), by downloading a version, or by putting a
        tree or package in <Mono>moodle-sources/</Mono> beside the repository before <Mono>up</Mono>.
      </p>
      {error && <ErrorNote>{error}</ErrorNote>}
      <div className="grid grid-cols-1 gap-4 md:grid-cols-2">
        <div className="card space-y-3 p-5">
          <h2 className="text-sm font-semibold">Upload a package</h2>
          <label htmlFor="moodle-upload" className="label">Moodle package (.tgz, .tar.gz or .zip)</label>
          <input id="moodle-upload" type="file" accept=".tgz,.gz,.zip,application/gzip,application/zip" disabled={busy} className="text-sm" onChange={(e) => onFile(e.target.files?.[0])} />
          {transfer && <Progress t={transfer} />}
        </div>
        <form className="card space-y-3 p-5" onSubmit={download}>
          <h2 className="text-sm font-semibold">Download a version</h2>
          <label htmlFor="moodle-version" className="label">Branch (newest release) or exact release</label>
          <div className="flex gap-2">
            <input id="moodle-version" className="input font-mono" value={version} onChange={(e) => setVersion(e.target.value)} placeholder="4.5 or 4.5.5" />
            <button type="submit" className="btn-primary" disabled={busy || !/^\d\.\d{1,2}(\.\d{1,2})?$/.test(version.trim())}>Download</button>
          </div>
        </form>
      </div>
      {op && (
        <div className="card space-y-2 p-4" data-testid="moodle-operation">
          <h2 className="text-sm font-semibold">{op.label}</h2>
          <StepList events={events} />
          {!finished && lastLog && <p className="font-mono text-xs text-slate-500">{lastLog}</p>}
        </div>
      )}
      {!builds && !error && <div className="skeleton h-40 w-full" />}
      {builds && builds.length === 0 && (
        <div className="card p-6 text-sm text-slate-600 dark:text-slate-400" data-testid="library-empty">
          The library is empty. Upload a Moodle package or download a version above to create your first site.
        </div>
      )}
      {builds && builds.length > 0 && (
        <div className="card overflow-x-auto">
          <table className="w-full text-sm">
            <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800">
              <tr>
                <th className="px-4 py-3">Release</th><th className="px-4 py-3">Branch</th><th className="px-4 py-3">Origin</th>
                <th className="px-4 py-3">Composer vendor/</th><th className="px-4 py-3">Used by</th><th className="px-4 py-3 text-right">Size</th><th />
              </tr>
            </thead>
            <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
              {builds.map((b) => (
                <tr key={b.id} data-build={b.id}>
                  <td className="px-4 py-3"><div className="font-medium">{b.release}</div><Mono>{b.id}</Mono></td>
                  <td className="px-4 py-3">{b.branch}</td>
                  <td className="px-4 py-3 text-slate-500" title={b.originDetail}>{b.origin}</td>
                  <td className="px-4 py-3">
                    {b.vendor ? "present" : <span className="text-amber-700 dark:text-amber-400" title="Moodle's environment page warns: Composer vendor directory not found">missing</span>}
                  </td>
                  <td className="px-4 py-3">{b.usedBy.length ? b.usedBy.join(", ") : <span className="text-slate-500 dark:text-slate-400">—</span>}</td>
                  <td className="px-4 py-3 text-right"><Mono>{formatBytes(b.sizeBytes)}</Mono></td>
                  <td className="px-4 py-3 text-right">
                    <button type="button" className="btn" disabled={busy || b.usedBy.length > 0} title={b.usedBy.length ? "in use by an instance" : undefined} onClick={() => setConfirming(b)} aria-label={`Remove Moodle ${b.release} (${b.id})`}>Remove</button>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {confirming && (
        <Dialog title={`Remove Moodle ${confirming.release}?`} description={`${confirming.id} leaves the library; no instance uses it.`} onClose={() => setConfirming(null)} testId="remove-build-dialog">
          <div className="flex justify-end gap-2">
            <button type="button" className="btn" data-autofocus onClick={() => setConfirming(null)}>Cancel</button>
            <button type="button" className="btn-danger" onClick={() => remove(confirming)}>Remove</button>
          </div>
        </Dialog>
      )}
    </div>
  );
}
