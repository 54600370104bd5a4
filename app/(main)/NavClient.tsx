"use client";

import Link from "next/link";
import { usePathname } from "next/navigation";
import { useEffect, useState } from "react";
import { api } from "../_lib/api";

const LINKS = [
  { href: "/", label: "Instances" },
  { href: "/images", label: "Images" },
  { href: "/host", label: "Host" },
  { href: "/settings", label: "Settings" },
];

export default function NavClient() {
  const path = usePathname();
  const [theme, setTheme] = useState<string>("light");
  useEffect(() => setTheme(document.documentElement.dataset.theme ?? "light"), []);
  const toggle = () => {
    const next = theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem("mdind-theme", next);
    setTheme(next);
  };
  const logout = async () => {
    await api("/api/v1/auth/logout", { method: "POST" }).catch(() => undefined);
    window.location.href = "/login";
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
