"use client";

import { api } from "../../../_lib/api";
import type { StartOp } from "./ops";

/**
 * Export in two steps. POST packs the archive as the instance's operation: its steps show in the
 * panel, and a busy instance or a failed step is a clear error there. When it is done, the browser's
 * own download manager fetches the packed file: it streams to disk with its own progress and size,
 * so a multi-GiB site never sits in this page's memory (instances/downloads.ts). The Nodes view
 * passes the cluster's API as `base`: the same two steps, packed from the instance's node.
 */
export default function ExportButton({ name, busy, onStarted, base = "/api/v1/instances", label }: { name: string; busy: boolean; onStarted: StartOp; base?: string; label?: string }) {
  async function run() {
    const file = `${name}.moodle-dind.tar.gz`;
    try {
      const r = await api<{ operation: string; download: string }>(`${base}/${name}/export`, { method: "POST" });
      onStarted({
        id: r.operation,
        label: "export",
        channel: name,
        onDone: () => {
          const a = document.createElement("a");
          a.href = r.download;
          a.download = file;
          document.body.appendChild(a);
          a.click();
          a.remove();
          return `Packed ${file}: your browser is saving it (its downloads list shows the progress)`;
        },
      });
    } catch (e) {
      onStarted({ id: null, label: "export", channel: name, error: (e as Error).message });
    }
  }
  return <button type="button" className="btn" data-testid="export" aria-label={label} disabled={busy} onClick={run}>Export</button>;
}
