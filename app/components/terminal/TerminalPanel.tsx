"use client";

import "@xterm/xterm/css/xterm.css";
import { useCallback, useEffect, useRef, useState } from "react";
import TerminalView, { type TermTarget, type TerminalHandle } from "./TerminalView";

/**
 * The dashboard's terminal: tabs of shells into an instance's services (or the host), each an
 * xterm.js view with copy/paste, fit-to-element resizing and reconnect with replay.
 *   <TerminalPanel instance="demo" />   tabs for db, app, web, cron of one instance
 *   <TerminalPanel target="host" />     the DinD host's shell (when the server allows it)
 */
type ServiceName = "db" | "app" | "web" | "cron";
const SERVICES: { id: ServiceName; label: string; hint: string }[] = [
  { id: "app", label: "app", hint: "www-data in /var/www/moodle: php admin/cli/…" },
  { id: "db", label: "db", hint: "the database client, logged in to this instance's database" },
  { id: "web", label: "web", hint: "a shell in the web server container" },
  { id: "cron", label: "cron", hint: "www-data in /var/www/moodle, in the cron container" },
];

interface Tab {
  key: string;
  target: TermTarget;
  title: string;
}

interface HostPolicy {
  enabled: boolean;
  reason: string;
}

function newKey(scope: string): string {
  const rnd = Math.random().toString(36).slice(2, 10);
  return `${scope}:${Date.now().toString(36)}${rnd}`;
}

function titleOf(t: TermTarget): string {
  return t.kind === "host" ? "host" : t.service === "db" ? "db (sql)" : t.service;
}

/** This page's tabs from before a reload (their sessions re-attach within the grace period). */
function savedTabs(tabsKey: string): Tab[] {
  try {
    return JSON.parse(sessionStorage.getItem(tabsKey) ?? "[]") as Tab[];
  } catch {
    return [];
  }
}

/**
 * The tabs an instance's panel starts with: the saved ones, else one app shell. The host's panel
 * starts with none (null) until the server says whether the host shell is allowed.
 */
function initialTabs(scope: string, tabsKey: string, instance: string | undefined, target: "host" | undefined): { tabs: Tab[] | null; active: string | null } {
  if (target === "host") return { tabs: null, active: null };
  if (!instance) return { tabs: [], active: null };
  const saved = savedTabs(tabsKey);
  if (saved.length) return { tabs: saved, active: saved[0].key };
  const tab: Tab = { key: newKey(scope), target: { kind: "container", instance, service: "app" }, title: "app" };
  return { tabs: [tab], active: tab.key };
}

export function TerminalPanel({ instance, target }: { instance?: string; target?: "host" }) {
  const scope = target === "host" ? "host" : `i:${instance ?? ""}`;
  const tabsKey = `mdind-term-tabs:${scope}`;
  // Restore this page's tabs. The instance panel is rendered in the browser only (ssr: false), so
  // reading sessionStorage here is safe; the host panel (prerendered) reads it in the effect below.
  const [initial] = useState(() => initialTabs(scope, tabsKey, instance, target));
  const [tabs, setTabs] = useState<Tab[] | null>(initial.tabs);
  const [active, setActive] = useState<string | null>(initial.active);
  const [restoredFor, setRestoredFor] = useState(scope);
  if (restoredFor !== scope) {
    // Another instance (or the host): start over with its tabs, while rendering.
    setRestoredFor(scope);
    const next = initialTabs(scope, tabsKey, instance, target);
    setTabs(next.tabs);
    setActive(next.active);
  }
  const [host, setHost] = useState<HostPolicy | null>(null);
  const [statuses, setStatuses] = useState<Record<string, string>>({});
  // Set when the browser refuses the clipboard API (no permission, or not a secure context).
  const [clipNote, setClipNote] = useState<string | null>(null);
  const handles = useRef<Record<string, TerminalHandle | null>>({});

  const open = useCallback(
    (t: TermTarget) => {
      const tab: Tab = { key: newKey(scope), target: t, title: titleOf(t) };
      setTabs((prev) => [...(prev ?? []), tab]);
      setActive(tab.key);
    },
    [scope],
  );

  // The host's tabs wait for the server's host-shell policy.
  useEffect(() => {
    if (target !== "host") return;
    const saved = savedTabs(tabsKey);
    fetch("/api/v1/terminal/sessions", { credentials: "same-origin" })
      .then((r) => (r.ok ? r.json() : null))
      .then((j: { hostShell?: HostPolicy } | null) => {
        const policy = j?.hostShell ?? { enabled: false, reason: "could not ask the server whether the host shell is allowed" };
        setHost(policy);
        if (saved.length) {
          setTabs(saved);
          setActive(saved[0].key);
        } else if (policy.enabled) {
          const tab: Tab = { key: newKey(scope), target: { kind: "host" }, title: "host" };
          setTabs([tab]);
          setActive(tab.key);
        } else setTabs([]);
      });
  }, [target, scope, tabsKey]);

  useEffect(() => {
    if (tabs) sessionStorage.setItem(tabsKey, JSON.stringify(tabs));
  }, [tabs, tabsKey]);

  const closeTab = (key: string) => {
    handles.current[key]?.close();
    delete handles.current[key];
    setTabs((prev) => {
      const next = (prev ?? []).filter((t) => t.key !== key);
      setActive((cur) => (cur === key ? (next[next.length - 1]?.key ?? null) : cur));
      return next;
    });
  };

  const activeHandle = () => (active ? handles.current[active] : null);

  return (
    <section className="card flex flex-col overflow-hidden" data-testid="terminal-panel" aria-label="Terminal">
      {target === "host" && (
        <div className="border-b border-amber-200 bg-amber-50 px-4 py-2 text-xs text-amber-900 dark:border-amber-900 dark:bg-amber-950 dark:text-amber-200" role="note">
          {host?.enabled === false ? (
            <span data-testid="host-shell-disabled">{host.reason}</span>
          ) : (
            <span>
              A shell on the machine that runs the dashboard, as the dashboard&apos;s user (often root). Inside the DinD host that is
              the point; on your own computer it is your own computer. {host?.reason ? `(${host.reason})` : ""}
            </span>
          )}
        </div>
      )}
      <div className="flex flex-wrap items-center gap-1 border-b border-slate-200 bg-slate-50 px-2 py-1.5 dark:border-slate-800 dark:bg-slate-900">
        {/* Sessions are toggle buttons, not ARIA tabs: each carries its own close button, and a tab
            may not hold interactive children (axe: nested-interactive, aria-required-children). */}
        <div role="group" aria-label="Open terminals" className="flex flex-wrap items-center gap-1">
        {(tabs ?? []).map((t) => (
          <div
            key={t.key}
            data-testid="terminal-tab"
            data-active={t.key === active}
            data-target={t.target.kind === "host" ? "host" : t.target.service}
            className={`group flex items-center gap-1 rounded-md border px-2 py-1 font-mono text-xs ${
              t.key === active
                ? "border-indigo-400 bg-white text-indigo-700 dark:bg-slate-950 dark:text-indigo-300"
                : "border-transparent text-slate-600 hover:bg-white dark:text-slate-400 dark:hover:bg-slate-950"
            }`}
          >
            <button type="button" aria-pressed={t.key === active} onClick={() => setActive(t.key)} className="flex items-center gap-1.5">
              <span
                className={`h-1.5 w-1.5 rounded-full ${
                  statuses[t.key] === "open" ? "bg-emerald-500" : statuses[t.key] === "ended" || statuses[t.key] === "refused" ? "bg-slate-400" : "bg-amber-400"
                }`}
              />
              {t.title}
            </button>
            <button
              type="button"
              aria-label={`Close ${t.title} terminal`}
              data-testid="terminal-tab-close"
              onClick={() => closeTab(t.key)}
              className="ml-1 rounded px-1 text-slate-500 dark:text-slate-400 hover:bg-slate-200 hover:text-slate-700 dark:hover:bg-slate-800"
            >
              ×
            </button>
          </div>
        ))}
        </div>
        <div className="ml-1 flex items-center gap-1">
          {target === "host"
            ? host?.enabled && (
                <button type="button" className="btn px-2 py-0.5 text-xs" onClick={() => open({ kind: "host" })}>
                  + host shell
                </button>
              )
            : instance &&
              SERVICES.map((s) => (
                <button
                  key={s.id}
                  type="button"
                  title={s.hint}
                  data-testid={`terminal-open-${s.id}`}
                  className="btn px-2 py-0.5 font-mono text-xs"
                  onClick={() => open({ kind: "container", instance, service: s.id })}
                >
                  + {s.label}
                </button>
              ))}
        </div>
        <div className="ml-auto flex items-center gap-1">
          {clipNote && (
            <span role="status" className="text-xs text-amber-700 dark:text-amber-400" data-testid="terminal-clipboard-note">
              {clipNote}
            </span>
          )}
          <button type="button" className="btn px-2 py-0.5 text-xs" title="Copy the selection (Ctrl+Shift+C)" onClick={() => void activeHandle()?.copy().then(() => setClipNote(null), () => setClipNote("The browser refused the clipboard: select and press Ctrl+Shift+C."))}>
            Copy
          </button>
          <button
            type="button"
            className="btn px-2 py-0.5 text-xs"
            data-testid="terminal-paste"
            title="Paste from the clipboard (Ctrl+Shift+V, or right-click → Paste)"
            onClick={() => void activeHandle()?.paste().then(() => setClipNote(null), () => setClipNote("The browser refused the clipboard: press Ctrl+Shift+V in the terminal."))}
          >
            Paste
          </button>
        </div>
      </div>
      <div className="relative" style={{ height: "min(70vh, 720px)", minHeight: 240 }}>
        {tabs && tabs.length === 0 && (
          <div className="flex h-full items-center justify-center bg-[#0b1020] text-sm text-slate-400">
            {target === "host" && host && !host.enabled ? "The host shell is disabled." : "No terminal open. Pick a service above."}
          </div>
        )}
        {(tabs ?? []).map((t) => (
          <div key={t.key} className="absolute inset-0" style={{ visibility: t.key === active ? "visible" : "hidden" }} data-active={t.key === active}>
            <TerminalView
              tabKey={t.key}
              target={t.target}
              active={t.key === active}
              onStatus={(s) => setStatuses((prev) => (prev[t.key] === s ? prev : { ...prev, [t.key]: s }))}
              ref={(h) => {
                handles.current[t.key] = h;
              }}
            />
          </div>
        ))}
      </div>
    </section>
  );
}

export default TerminalPanel;
