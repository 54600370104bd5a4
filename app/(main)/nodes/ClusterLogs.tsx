"use client";

import { useEffect, useState } from "react";
import { api } from "../../_lib/api";
import type { ClusterLogFile } from "../../_lib/types";
import { Dialog } from "../../_components/Dialog";
import { ErrorNote, Mono } from "../../_components/ui";

/** A cluster instance's log files, read on the node holding its data. */
export default function ClusterLogs({ name, onClose }: { name: string; onClose: () => void }) {
  const [files, setFiles] = useState<{ node: string; files: ClusterLogFile[] } | null>(null);
  const [file, setFile] = useState("");
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    api<{ node: string; files: ClusterLogFile[] }>(`/api/v1/cluster/instances/${encodeURIComponent(name)}/logs`)
      .then((r) => {
        setFiles(r);
        setFile(r.files.find((f) => f.path.endsWith("error.log") || f.path.endsWith("fpm.log"))?.path ?? r.files[0]?.path ?? "");
      })
      .catch((e: Error) => setError(e.message));
  }, [name]);
  useEffect(() => {
    if (!file) return;
    api<{ text: string }>(`/api/v1/cluster/instances/${encodeURIComponent(name)}/logs?file=${encodeURIComponent(file)}&lines=300`)
      .then((r) => setText(r.text))
      .catch((e: Error) => setError(e.message));
  }, [name, file]);
  return (
    <Dialog title={`Logs of ${name}`} description={files ? <>read on node <Mono>{files.node}</Mono></> : undefined} onClose={onClose} testId="cluster-logs">
      {error && <ErrorNote>{error}</ErrorNote>}
      {files && (
        <div className="space-y-2">
          <label className="block text-sm">
            File{" "}
            <select className="input ml-2" value={file} onChange={(e) => setFile(e.target.value)} data-testid="cluster-log-file">
              {files.files.map((f) => (
                <option key={f.path} value={f.path}>{f.path} ({f.service}, {f.size} B)</option>
              ))}
            </select>
          </label>
          <pre className="max-h-96 overflow-auto rounded bg-slate-950 p-3 text-xs text-slate-100" data-testid="cluster-log-text">{text ?? "…"}</pre>
        </div>
      )}
    </Dialog>
  );
}
