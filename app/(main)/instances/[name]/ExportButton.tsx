"use client";

import { csrfToken, formatBytes } from "../../../_lib/api";
import type { StartOp, UpdateOp } from "./ops";

/**
 * Export: the server packs the archive as an operation (its steps show in the panel, matched by
 * name since a GET answer cannot carry the id first), then the body streams here and the panel
 * counts its bytes against content-length before the browser saves it.
 */
export default function ExportButton({ name, busy, onStarted, onUpdate }: { name: string; busy: boolean; onStarted: StartOp; onUpdate: UpdateOp }) {
  async function run() {
    onStarted({ id: null, match: "export", label: "export", channel: name, pending: true });
    try {
      const res = await fetch(`/api/v1/instances/${name}/export`, { credentials: "same-origin", headers: { "x-mdind-csrf": csrfToken() } });
      if (!res.ok || !res.body) {
        const e = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
        throw new Error(e?.error?.message ?? `HTTP ${res.status}`);
      }
      // A compressing proxy may drop content-length; the server also sends the size on its own.
      const total = Number(res.headers.get("content-length") || res.headers.get("x-mdind-size") || 0);
      const file = /filename="([^"]+)"/.exec(res.headers.get("content-disposition") ?? "")?.[1] ?? `${name}.moodle-dind.tar.gz`;
      const reader = res.body.getReader();
      const parts: Uint8Array<ArrayBuffer>[] = [];
      let got = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        parts.push(value);
        got += value.length;
        onUpdate({ progress: { what: "download", done: got, total } });
      }
      const url = URL.createObjectURL(new Blob(parts, { type: "application/gzip" }));
      const a = document.createElement("a");
      a.href = url;
      a.download = file;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
      onUpdate({ pending: false, progress: { what: "download", done: got, total: total || got }, result: `Downloaded ${file} (${formatBytes(got)})` });
    } catch (e) {
      onUpdate({ pending: false, error: (e as Error).message });
    }
  }
  return <button type="button" className="btn" data-testid="export" disabled={busy} onClick={run}>Export</button>;
}
