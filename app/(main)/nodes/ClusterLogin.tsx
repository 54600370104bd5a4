"use client";

import { useState } from "react";
import { api } from "../../_lib/api";
import { Mono } from "../../_components/ui";
import { BASE } from "./clusterApi";

interface Login {
  url: string;
  release: string;
  adminUser: string;
  adminPassword: string;
}

/**
 * The way into a cluster site: its address and Moodle's admin login, read from its node only when
 * asked for (the password is a secret, never part of the view's refresh), hidden again on a click.
 */
export default function ClusterLogin({ name }: { name: string }) {
  const [login, setLogin] = useState<Login | null>(null);
  const [error, setError] = useState<string | null>(null);

  async function show() {
    setError(null);
    try {
      const path = `${BASE}/instances/${encodeURIComponent(name)}`;
      const [info, sec] = await Promise.all([api<{ url: string; release: string }>(path), api<{ adminUser: string; adminPassword: string }>(`${path}/secrets`)]);
      setLogin({ url: info.url, release: info.release, ...sec });
    } catch (e) {
      setError((e as Error).message);
    }
  }

  if (!login) {
    return (
      <>
        <button type="button" className="btn ml-1 px-2 py-0 text-xs" onClick={show} aria-label={`Login of ${name}`}>
          Login
        </button>
        {error && <span role="alert" className="ml-1 text-xs text-rose-600">{error}</span>}
      </>
    );
  }
  return (
    <span className="ml-1 inline-flex flex-wrap items-center gap-1 text-xs" data-testid="cluster-login">
      <a href={login.url} target="_blank" rel="noreferrer" className="underline">{login.url}</a>
      <span>({login.release})</span>
      <Mono>{login.adminUser}</Mono> / <Mono>{login.adminPassword}</Mono>
      <button type="button" className="btn px-2 py-0 text-xs" onClick={() => setLogin(null)}>Hide</button>
    </span>
  );
}
