"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useSyncExternalStore } from "react";
import { api } from "../_lib/api";

const LINKS = [
  { href: "/", label: "Instances" },
  { href: "/moodle", label: "Moodle" },
  { href: "/images", label: "Images" },
  { href: "/host", label: "Host" },
  { href: "/nodes", label: "Nodes" },
  { href: "/settings", label: "Settings" },
];

// The theme lives on <html data-theme> (set before paint by the layout's script); the server
// renders "light" and hydration then picks up the real value without a mismatch.
function subscribeTheme(onChange: () => void): () => void {
  const mo = new MutationObserver(onChange);
  mo.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
  return () => mo.disconnect();
}
const readTheme = () => document.documentElement.dataset.theme ?? "light";
const serverTheme = () => "light";

export default function NavClient() {
  const path = usePathname();
  const theme = useSyncExternalStore(subscribeTheme, readTheme, serverTheme);
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("mdind-theme", next);
  };
  const logout = async () => {
    await api("/api/v1/auth/logout", { method: "POST" }).catch(() => undefined);
    // A full page load on purpose, not router.push(): it drops the client router cache and every
    // open stream (EventSource, terminals) that belonged to the signed-in session.
    window.location.assign(new URL("/login", window.location.href));
  };
  return (
    <>
      <nav className="flex items-center gap-1 text-sm">
        {LINKS.map((l) => {
          const active = l.href === "/" ? path === "/" || path.startsWith("/instances") : path.startsWith(l.href);
          return (
            <Link
              key={l.href}
              href={l.href}
              className={`rounded-lg px-3 py-1.5 font-medium ${active ? "bg-slate-100 text-slate-900 dark:bg-slate-800 dark:text-white" : "text-slate-600 hover:text-slate-900 dark:text-slate-400 dark:hover:text-white"}`}
            >
              {l.label}
            </Link>
          );
        })}
      </nav>
      <div className="ml-auto flex items-center gap-2">
        <button type="button" className="btn" onClick={toggle} aria-label="Toggle dark mode" title="Toggle dark mode">
          {theme === "dark" ? "☀" : "☾"}
        </button>
        <button type="button" className="btn" onClick={logout}>Log out</button>
      </div>
    </>
  );
}
