"use client";

import { useState } from "react";
import { api } from "../../../_lib/api";

/**
 * "Open as admin": asks for a one-time link (single use, ≤ 60 s; POST with the CSRF header) and
 * opens it in a new tab. The tab is opened on the click itself, so no popup blocker stops it,
 * and pointed at the link once it arrives. No password is in the link.
 */
export default function AdminLoginButton({ name, disabled, onError }: { name: string; disabled: boolean; onError: (m: string) => void }) {
  const [waiting, setWaiting] = useState(false);
  async function open() {
    const tab = window.open("about:blank", "_blank");
    if (tab) tab.opener = null;
    setWaiting(true);
    try {
      const r = await api<{ url: string }>(`/api/v1/instances/${name}/login-link`, { method: "POST" });
      if (tab) tab.location.href = r.url;
      else window.location.assign(r.url);
    } catch (e) {
      tab?.close();
      onError((e as Error).message);
    } finally {
      setWaiting(false);
    }
  }
  return (
    <button type="button" className="btn" data-testid="open-admin" disabled={disabled || waiting} onClick={open}>
      {waiting ? "Opening…" : "Open as admin ↗"}
    </button>
  );
}
