"use client";

import { useState } from "react";
import { useSearchParams } from "next/navigation";
import { api, ApiError } from "../_lib/api";

export default function LoginForm() {
  const params = useSearchParams();
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await api("/api/v1/auth/login", { method: "POST", body: { password } });
      const next = params.get("next");
      // Only same-site paths: never bounce a user to another origin after login.
      window.location.href = next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
    } catch (err) {
      setError(err instanceof ApiError ? err.message : "login failed");
      setBusy(false);
    }
  }

  return (
    <form onSubmit={submit} className="card space-y-4 p-6">
      <div>
        <label htmlFor="user" className="label">User</label>
        <input id="user" className="input font-mono" value="admin" readOnly />
      </div>
      <div>
        <label htmlFor="password" className="label">Password</label>
        <input
          id="password"
          name="password"
          type="password"
          autoComplete="current-password"
          autoFocus
          className="input font-mono"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
        />
        <p className="mt-1 text-xs text-slate-500">First start prints a generated password in the server log.</p>
      </div>
      {error && <p role="alert" className="rounded-lg bg-rose-50 px-3 py-2 text-sm text-rose-700 dark:bg-rose-950 dark:text-rose-300">{error}</p>}
      <button type="submit" className="btn-primary w-full justify-center py-2" disabled={busy || !password}>
        {busy ? "Logging in…" : "Log in"}
      </button>
    </form>
  );
}
