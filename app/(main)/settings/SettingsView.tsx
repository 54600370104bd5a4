"use client";

import { useEffect, useState } from "react";
import { api } from "../../_lib/api";
import { EmptyState, ErrorNote, Mono } from "../../_components/ui";

interface Token { id: string; name: string; createdAt: string; lastUsedAt?: string }

export default function SettingsView() {
  return (
    <div className="mx-auto max-w-3xl space-y-6">
      <h1 className="text-2xl font-semibold">Settings</h1>
      <PasswordCard />
      <TokensCard />
    </div>
  );
}

function PasswordCard() {
  const [current, setCurrent] = useState("");
  const [next, setNext] = useState("");
  const [again, setAgain] = useState("");
  const [msg, setMsg] = useState<{ ok: boolean; text: string } | null>(null);
  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setMsg(null);
    if (next !== again) return setMsg({ ok: false, text: "The new passwords differ." });
    try {
      await api("/api/v1/auth/password", { method: "POST", body: { current, password: next } });
      setMsg({ ok: true, text: "Password changed. Other sessions were logged out." });
      setCurrent(""); setNext(""); setAgain("");
    } catch (err) {
      setMsg({ ok: false, text: (err as Error).message });
    }
  }
  return (
    <form onSubmit={submit} className="card space-y-4 p-6">
      <h2 className="font-semibold">Admin password</h2>
      <div className="grid gap-3 sm:grid-cols-3">
        <div><label className="label" htmlFor="cur">Current</label><input id="cur" type="password" autoComplete="current-password" className="input" value={current} onChange={(e) => setCurrent(e.target.value)} /></div>
        <div><label className="label" htmlFor="new">New (10+ chars)</label><input id="new" type="password" autoComplete="new-password" className="input" value={next} onChange={(e) => setNext(e.target.value)} /></div>
        <div><label className="label" htmlFor="again">Repeat</label><input id="again" type="password" autoComplete="new-password" className="input" value={again} onChange={(e) => setAgain(e.target.value)} /></div>
      </div>
      {msg && (msg.ok ? <p className="text-sm text-emerald-700 dark:text-emerald-400">{msg.text}</p> : <ErrorNote>{msg.text}</ErrorNote>)}
      <button type="submit" className="btn-primary" disabled={!current || next.length < 10}>Change password</button>
    </form>
  );
}

function TokensCard() {
  const [tokens, setTokens] = useState<Token[] | null>(null);
  const [name, setName] = useState("");
  const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
  const [error, setError] = useState<string | null>(null);
  const load = () => api<{ tokens: Token[] }>("/api/v1/auth/tokens").then((r) => setTokens(r.tokens)).catch((e: Error) => setError(e.message));
  useEffect(() => {
    load();
  }, []);
  async function create(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    try {
      const r = await api<{ name: string; token: string }>("/api/v1/auth/tokens", { method: "POST", body: { name } });
      setCreated(r);
      setName("");
      load();
    } catch (err) {
      setError((err as Error).message);
    }
  }
  async function revoke(id: string) {
    await api(`/api/v1/auth/tokens?id=${id}`, { method: "DELETE" }).catch((e: Error) => setError(e.message));
    load();
  }
  return (
    <div className="card space-y-4 p-6">
      <div>
        <h2 className="font-semibold">API tokens</h2>
        <p className="text-sm text-slate-500">For the CLI on another machine: <Mono>moodle-dind --url http://host:7800 --token … list</Mono></p>
      </div>
      <form onSubmit={create} className="flex gap-2">
        <input className="input" placeholder="Token name, e.g. laptop" aria-label="Token name" value={name} onChange={(e) => setName(e.target.value)} maxLength={64} />
        <button type="submit" className="btn-primary shrink-0" disabled={!name}>Create token</button>
      </form>
      {created && (
        <div className="rounded-lg border border-amber-300 bg-amber-50 p-3 text-sm dark:border-amber-800 dark:bg-amber-950">
          <p className="font-medium">Copy it now — it is shown only once:</p>
          <code className="mt-1 block break-all font-mono text-xs" data-testid="new-token">{created.token}</code>
        </div>
      )}
      {error && <ErrorNote>{error}</ErrorNote>}
      {tokens && tokens.length === 0 && <EmptyState title="No tokens">Create one to drive this host from a script or another machine.</EmptyState>}
      {tokens && tokens.length > 0 && (
        <table className="w-full text-sm">
          <thead className="text-left text-xs uppercase text-slate-500"><tr><th className="py-2">Name</th><th className="py-2">Id</th><th className="py-2">Created</th><th /></tr></thead>
          <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
            {tokens.map((t) => (
              <tr key={t.id}><td className="py-2">{t.name}</td><td className="py-2"><Mono>{t.id}</Mono></td><td className="py-2"><Mono>{new Date(t.createdAt).toLocaleString()}</Mono></td><td className="py-2 text-right"><button type="button" className="btn" onClick={() => revoke(t.id)}>Revoke</button></td></tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
