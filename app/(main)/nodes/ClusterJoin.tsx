"use client";

import { useState } from "react";
import { api } from "../../_lib/api";
import { ErrorNote, Mono } from "../../_components/ui";
import type { JoinInstructions } from "../../_lib/types";
import { BASE } from "./clusterApi";

/**
 * Adding a machine to a cluster of real machines: the three commands, with this swarm's join
 * token. The token is a secret, so it is fetched only when asked for, never on the view's refresh.
 */
export default function ClusterJoin() {
  const [j, setJ] = useState<JoinInstructions | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function show() {
    setError(null);
    try {
      setJ(await api<JoinInstructions>(`${BASE}/join`));
    } catch (e) {
      setError((e as Error).message);
    }
  }

  return (
    <div className="card space-y-2 p-4 text-sm" data-testid="cluster-join">
      <h2 className="font-semibold">Add a machine</h2>
      <p className="text-slate-500">
        Start its host with <Mono>MDIND_CLUSTER_NODE=1</Mono> (docs/cluster.md), then run these; HOSTNAME is its host&apos;s hostname, ADDRESS
        the address this machine reaches it at.
      </p>
      {!j && (
        <button type="button" className="btn" onClick={show} data-testid="cluster-join-show">
          Show the join command
        </button>
      )}
      {j && (
        <ol className="list-decimal space-y-1 pl-5">
          <li>Here: <Mono>{j.certs}</Mono>, then copy the three files into its data volume&apos;s <Mono>tls/</Mono> and restart its host with <Mono>MDIND_DOCKER_TLS=1</Mono>.</li>
          <li>There: <span data-testid="cluster-join-command"><Mono>{j.join}</Mono></span></li>
          <li>Here: <Mono>{j.add}</Mono></li>
        </ol>
      )}
      {error && <ErrorNote>{error}</ErrorNote>}
    </div>
  );
}
