"use client";

import Link from "next/link";
import { useState } from "react";
import { csrfToken, formatBytes } from "../_lib/api";
import { useEvents } from "../_lib/events";
import { ErrorNote, Mono, StepList, type OpEventLite } from "../_components/ui";

/**
 * Import an export archive as a new instance. The body goes straight to POST /api/v1/import
 * (outside the proxy, which would cut a big body) with XHR, whose upload events give progress;
 * the import's steps follow on the new name's channel.
 */
export default function ImportPanel() {
  const [open, setOpen] = useState(false);
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState("");
  const [sent, setSent] = useState<{ done: number; total: number } | null>(null);
  const [op, setOp] = useState<{ name: string; id: string } | null>(null);
  const [events, setEvents] = useState<OpEventLite[]>([]);
  const [error, setError] = useState<string | null>(null);

  useEvents(
    {
      op: (d) => {
        const ev = d as OpEventLite;
        if (!op || ev.opId !== op.id) return;
        setEvents((cur) => (cur.some((x) => x.seq === ev.seq) ? cur : [...cur, ev]));
      },
    },
    op ? `?instance=${op.name}` : "",
    op !== null,
  );

  function upload(e: React.FormEvent) {
    e.preventDefault();
    if (!file || !name) return;
    setError(null);
    setEvents([]);
    setOp(null);
    setSent({ done: 0, total: file.size });
    const xhr = new XMLHttpRequest();
    xhr.open("POST", `/api/v1/import?name=${encodeURIComponent(name)}`);
    xhr.setRequestHeader("content-type", "application/gzip");
    xhr.setRequestHeader("accept", "application/json");
    xhr.setRequestHeader("x-mdind-csrf", csrfToken());
    xhr.upload.onprogress = (p) => setSent({ done: p.loaded, total: p.total || file.size });
    xhr.onerror = () => setError("the upload failed (connection lost)");
    xhr.onload = () => {
      let body: { operation?: string; error?: { message?: string } } = {};
      try {
        body = JSON.parse(xhr.responseText) as typeof body;
      } catch {
        // A non-JSON answer: the status says enough.
      }
      if (xhr.status !== 202 || !body.operation) return setError(body.error?.message ?? `HTTP ${xhr.status}`);
      setOp({ name, id: body.operation });
    };
    xhr.send(file);
  }

  const end = events.find((e) => e.type === "done" || e.type === "error");
  const uploading = sent !== null && !op && !error;
  return (
    <>
      <button type="button" className="btn" data-testid="import-open" aria-expanded={open} aria-controls="import-panel" onClick={() => setOpen((o) => !o)}>Import…</button>
      {open && (
        <section id="import-panel" className="card w-full space-y-3 p-4" aria-labelledby="import-title" data-testid="import-panel">
          <h2 id="import-title" className="text-sm font-semibold">Import an export archive as a new instance</h2>
          <form className="flex flex-wrap items-end gap-3" onSubmit={upload}>
            <label className="space-y-1 text-sm">
              <span className="block">Archive (.moodle-dind.tar.gz)</span>
              <input type="file" accept=".gz,.tgz,application/gzip" data-testid="import-file" onChange={(e) => setFile(e.target.files?.[0] ?? null)} />
            </label>
            <label className="space-y-1 text-sm">
              <span className="block">New instance name</span>
              <input className="input w-56 font-mono" value={name} onChange={(e) => setName(e.target.value)} data-testid="import-name" />
            </label>
            <button type="submit" className="btn-primary" disabled={!file || !name || uploading || (op !== null && !end)} data-testid="import-start">Upload and import</button>
          </form>
          {sent && (
            <div className="space-y-1 text-sm">
              <progress className="w-full" max={sent.total || undefined} value={sent.done} aria-label="upload progress" />
              <Mono>upload: {formatBytes(sent.done)} of {formatBytes(sent.total)}</Mono>
            </div>
          )}
          {error && <ErrorNote>{error}</ErrorNote>}
          {op && <StepList events={events} />}
          {op && end?.type === "done" && (
            <Link href={`/instances/${op.name}`} className="btn-primary" data-testid="import-open-instance">Open {op.name}</Link>
          )}
        </section>
      )}
    </>
  );
}
