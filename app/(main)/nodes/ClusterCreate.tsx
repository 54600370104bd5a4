"use client";

import { useEffect, useState } from "react";
import Link from "next/link";
import { api } from "../../_lib/api";
import { ErrorNote } from "../../_components/ui";
import type { NodeOverview } from "../../_lib/types";
import type { StartOp } from "../instances/[name]/ops";
import { BASE, placeable } from "./clusterApi";

/** What the Moodle select offers: this host's library (newest first), and the test app where the host offers it. */
interface Meta {
  builds: { id: string; release: string }[];
  fixture: boolean;
}

/**
 * A new cluster instance (as `cluster create`): a Moodle build of this host's library (the newest
 * by default, copied to the node that makes it), on PostgreSQL or MariaDB, on the node picked or,
 * by default, where the swarm scheduler places it. A refusal (a taken or bad name) stays beside
 * the form to fix; the create itself runs in the operation panel on the new name's channel.
 */
export default function ClusterCreate({ nodes, busy, onStarted }: { nodes: NodeOverview[]; busy: boolean; onStarted: StartOp }) {
  const [name, setName] = useState("");
  const [node, setNode] = useState("");
  const [db, setDb] = useState("postgres");
  const [meta, setMeta] = useState<Meta | null>(null);
  const [moodle, setMoodle] = useState("");
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api<Meta>("/api/v1/meta").then((m) => {
      setMeta(m);
      setMoodle(m.builds[0]?.id ?? (m.fixture ? "fixture" : ""));
    }).catch((e: Error) => setError(e.message));
  }, []);

  async function create(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ name: string; operation: string }>(`${BASE}/instances`, { method: "POST", body: { name, db, moodle, ...(node ? { node } : {}) } });
      setName("");
      onStarted({ id: r.operation, label: `create ${r.name}${node ? ` on ${node}` : ""}`, channel: r.name, onDone: () => `${r.name} runs` });
    } catch (err) {
      setError((err as Error).message);
    }
  }

  return (
    <form className="card flex flex-wrap items-end gap-3 p-4" onSubmit={create} data-testid="cluster-create" aria-label="New cluster instance">
      <h2 className="w-full text-sm font-semibold">New instance</h2>
      <label className="space-y-1 text-sm">
        <span className="block">Name</span>
        <input className="input font-mono" value={name} onChange={(e) => setName(e.target.value)} required maxLength={32} pattern="[a-z][a-z0-9\-]{0,30}[a-z0-9]" title="2–32 characters: lowercase letters, digits and '-', starting with a letter" />
      </label>
      <label className="space-y-1 text-sm">
        <span className="block">Moodle</span>
        <select className="input font-mono" value={moodle} onChange={(e) => setMoodle(e.target.value)} data-testid="cluster-create-moodle">
          {meta?.builds.map((b) => <option key={b.id} value={b.id}>Moodle {b.release}</option>)}
          {meta?.fixture && <option value="fixture">fixture (CI test app)</option>}
        </select>
      </label>
      <label className="space-y-1 text-sm">
        <span className="block">Node</span>
        <select className="input font-mono" value={node} onChange={(e) => setNode(e.target.value)}>
          <option value="">scheduler picks</option>
          {placeable(nodes).map((n) => <option key={n.id} value={n.hostname}>{n.hostname}</option>)}
        </select>
      </label>
      <label className="space-y-1 text-sm">
        <span className="block">Database</span>
        {/* The engine only: its version is the version table's default for the fixture site. */}
        <select className="input font-mono" value={db} onChange={(e) => setDb(e.target.value)} data-testid="cluster-create-db">
          <option value="postgres">PostgreSQL</option>
          <option value="mariadb">MariaDB</option>
        </select>
      </label>
      <button type="submit" className="btn-primary" disabled={busy || !name || !moodle}>Create</button>
      {meta && !moodle && (
        <p className="w-full text-sm text-slate-500" data-testid="cluster-no-moodle">
          The library has no Moodle yet: <Link href="/moodle" className="underline">add one on the Moodle page</Link>; each node gets a copy when it first makes a site of it.
        </p>
      )}
      {error && <div className="w-full"><ErrorNote>{error}</ErrorNote></div>}
    </form>
  );
}
