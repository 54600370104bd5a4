"use client";

import dynamic from "next/dynamic";
import Link from "next/link";
import { useRouter } from "next/navigation";
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError } from "../../../_lib/api";
import { useEvents } from "../../../_lib/events";
import type { InstanceView } from "../../../_lib/types";
import { ErrorNote, HealthDot, Mono, StatusBadge, type OpEventLite } from "../../../_components/ui";
import LogsTab from "./LogsTab";
import ConfigTab from "./ConfigTab";
import MailTab from "./MailTab";
import UpgradeButton from "./UpgradeButton";
import AdminLoginButton from "./AdminLoginButton";
import CloneButton from "./CloneButton";
import ExportButton from "./ExportButton";
import PhpButton from "./PhpButton";
import SnapshotsTab from "./SnapshotsTab";
import type { PanelOp } from "./ops";
import OpPanel from "./OpPanel";
import { Dialog } from "../../../_components/Dialog";
import BlueprintPanel from "../../../components/BlueprintPanel";
import ServiceCharts from "../../../components/charts/ServiceCharts";

const TerminalPanel = dynamic(
  () => import("../../../components/terminal/TerminalPanel").then((m) => (m as { TerminalPanel?: React.ComponentType<{ instance: string }> }).TerminalPanel ?? m.default),
  { ssr: false, loading: () => <div className="skeleton h-80 w-full" /> },
);

const CRON_REFRESH_MS = 60_000;
const TABS = ["overview", "services", "snapshots", "logs", "config", "mail", "terminal"] as const;
type Tab = (typeof TABS)[number];

export default function InstanceDetail({ name }: { name: string }) {
  const [view, setView] = useState<InstanceView | null>(null);
  const [gone, setGone] = useState(false);
  const [error, setError] = useState<string | null>(null);
  // The tab named in the URL's hash, read once. The server renders "overview"; that cannot clash
  // at hydration because nothing tab-dependent renders until the instance has loaded.
  const [tab, setTab] = useState<Tab>(() => {
    const h = (typeof window === "undefined" ? "" : window.location.hash.slice(1)) as Tab;
    return TABS.includes(h) ? h : "overview";
  });
  const [op, setOp] = useState<PanelOp | null>(null);
  const [opEvents, setOpEvents] = useState<OpEventLite[]>([]);
  // Bumped when an operation ends, so tabs that list things (snapshots) read again.
  const [opsEnded, setOpsEnded] = useState(0);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const router = useRouter();
  const tabRefs = useRef<Record<string, HTMLButtonElement | null>>({});
  // The id adopted for a matched operation, at once: its next event may come before a re-render.
  const adopted = useRef<string | null>(null);

  /** Reads the instance view; a `background` read keeps its failure to itself (see below). */
  const load = useCallback(
    (background = false) => {
      api<InstanceView>(`/api/v1/instances/${name}`)
        .then((v) => setView(v))
        .catch((e: ApiError) => {
          if (background) return;
          if (e.status === 404) setGone(true);
          else setError(e.message);
        });
    },
    [name],
  );
  useEffect(() => load(), [load]);

  // Cron's last run and cadence are files the cron container writes, not engine events, so no
  // status push carries them: while the overview of a running instance is on screen, read them
  // again once a minute (cron's own unit) and when the tab comes back into view.
  const running = view?.status === "running";
  useEffect(() => {
    if (tab !== "overview" || !running) return;
    // A failed background read (a dashboard restart, a network blip) is not the user's error to see:
    // the next one, or a status push, brings the page up to date.
    const again = () => {
      if (document.visibilityState === "visible") load(true);
    };
    const t = setInterval(again, CRON_REFRESH_MS);
    document.addEventListener("visibilitychange", again);
    return () => {
      clearInterval(t);
      document.removeEventListener("visibilitychange", again);
    };
  }, [tab, running, load]);

  // The panel's operation as of now, not as of the last render: the first events of a fast step
  // (a 0.1 s check) can arrive between startOp and the re-render that would show them.
  const opRef = useRef<PanelOp | null>(null);
  // Recent op events of the channels this page hears, so an operation adopted by id after its first
  // events arrived (they can come before the POST that started it answers) still shows every step.
  const recent = useRef<OpEventLite[]>([]);

  const updateOp = useCallback((patch: Partial<PanelOp>) => {
    if (opRef.current) opRef.current = { ...opRef.current, ...patch };
    setOp(opRef.current);
  }, []);

  /** An op event of the panel's operation (adopting a matched one by name), and its end. */
  function onOpEvent(ev: OpEventLite) {
    const op = opRef.current;
    if (!op || ev.instance !== op.channel) return;
    const id = op.id ?? adopted.current;
    if (id === null) {
      if (ev.type !== "start" || ev.op !== op.match) return;
      adopted.current = ev.opId;
      updateOp({ id: ev.opId });
    } else if (ev.opId !== id) return;
    setOpEvents((cur) => (cur.some((x) => x.seq === ev.seq) ? cur : [...cur, ev]));
    if (ev.type === "done" || ev.type === "error") {
      if (op.label === "remove" && ev.type === "done") return router.push("/");
      if (ev.type === "done" && op.onDone) {
        const line = op.onDone();
        if (typeof line === "string") updateOp({ result: line });
      }
      setOpsEnded((n) => n + 1);
      load();
    }
  }

  function heard(ev: OpEventLite) {
    recent.current = [...recent.current.slice(-199), ev];
    onOpEvent(ev);
  }

  function startOp(o: PanelOp) {
    adopted.current = null;
    opRef.current = o;
    setError(null);
    setOpEvents([]);
    setOp(o);
    if (o.id) for (const ev of recent.current.filter((e) => e.instance === o.channel && e.opId === o.id)) onOpEvent(ev);
  }

  function dismissOp() {
    opRef.current = null;
    setOp(null);
  }

  useEvents(
    {
      status: (d) => {
        const s = d as { view: InstanceView | null };
        if (s.view) setView((cur) => ({ ...(cur ?? {}), ...s.view! }));
      },
      op: (d) => heard(d as OpEventLite),
    },
    `?instance=${name}`,
  );
  // A clone's steps run on the new name's channel.
  const elsewhere = op !== null && op.channel !== name;
  useEvents({ op: (d) => heard(d as OpEventLite) }, `?instance=${op?.channel ?? name}`, elsewhere);

  async function act(action: "start" | "stop" | "restart", services?: string[]) {
    setError(null);
    try {
      const r = await api<{ operation: string }>(`/api/v1/instances/${name}/actions/${action}`, {
        method: "POST",
        body: services ? { services } : {},
      });
      startOp({ id: r.operation, label: services ? `${action} ${services.join(", ")}` : action, channel: name });
    } catch (e) {
      setError((e as Error).message);
    }
  }

  async function switchProfile(profile: "dev" | "prod") {
    setError(null);
    try {
      const r = await api<{ operation: string }>(`/api/v1/instances/${name}/profile`, { method: "POST", body: { profile } });
      startOp({ id: r.operation, label: `profile ${profile}`, channel: name });
    } catch (e) {
      setError((e as Error).message);
    }
  }

  async function remove() {
    setConfirmDelete(false);
    try {
      const r = await api<{ operation: string }>(`/api/v1/instances/${name}`, { method: "DELETE" });
      startOp({ id: r.operation, label: "remove", channel: name });
    } catch (e) {
      setError((e as Error).message);
    }
  }

  /** Tabs as the ARIA pattern: arrows move and select (wrapping), Home/End jump, only the selected tab is in the Tab order. */
  function selectTab(t: Tab, focus = false) {
    setTab(t);
    history.replaceState(null, "", `#${t}`);
    if (focus) tabRefs.current[t]?.focus();
  }
  function onTabKey(e: React.KeyboardEvent) {
    const i = TABS.indexOf(tab);
    const next = e.key === "ArrowRight" ? TABS[(i + 1) % TABS.length]
      : e.key === "ArrowLeft" ? TABS[(i - 1 + TABS.length) % TABS.length]
        : e.key === "Home" ? TABS[0]
          : e.key === "End" ? TABS[TABS.length - 1]
            : null;
    if (!next) return;
    e.preventDefault();
    selectTab(next, true);
  }

  if (gone) {
    return (
      <div className="card space-y-3 p-8 text-center">
        <h1 className="text-xl font-semibold">No instance named <span className="font-mono">{name}</span></h1>
        <Link href="/" className="btn-primary">Back to instances</Link>
      </div>
    );
  }
  if (!view) {
    return (
      <div className="space-y-4">
        <div className="skeleton h-8 w-64" />
        <div className="skeleton h-40 w-full" />
        {error && <ErrorNote>{error}</ErrorNote>}
      </div>
    );
  }

  const ended = opEvents.some((e) => e.type === "done" || e.type === "error");
  const opRunning = op !== null && !op.error && (op.pending === true || !ended);
  const busy = opRunning || view.operation !== null;
  return (
    <div className="space-y-5">
      <div className="flex flex-wrap items-center gap-3">
        <Link href="/" className="text-sm text-slate-500 hover:underline">Instances</Link>
        <span className="text-slate-400">/</span>
        <h1 className="font-mono text-2xl font-semibold">{name}</h1>
        <StatusBadge status={view.status} />
        <div className="ml-auto flex flex-wrap gap-2">
          <a href={view.url} target="_blank" rel="noreferrer" className="btn">Open site ↗</a>
          <AdminLoginButton name={name} disabled={busy || view.status !== "running"} onError={setError} />
          <button type="button" className="btn" disabled={busy || view.status === "running"} onClick={() => act("start")}>Start</button>
          <button type="button" className="btn" disabled={busy || view.status === "stopped"} onClick={() => act("stop")}>Stop</button>
          <button type="button" className="btn" disabled={busy} onClick={() => act("restart")}>Restart</button>
          <CloneButton name={name} busy={busy} onStarted={startOp} />
          <ExportButton name={name} busy={busy} onStarted={startOp} />
          <PhpButton view={view} busy={busy} onStarted={startOp} />
          <UpgradeButton view={view} busy={busy} onStarted={(id, label) => startOp({ id, label, channel: name })} />
          <button type="button" className="btn-danger" disabled={busy} onClick={() => setConfirmDelete(true)}>Delete</button>
        </div>
      </div>

      {error && <ErrorNote>{error}</ErrorNote>}
      {op && <OpPanel op={op} events={opEvents} running={opRunning} onDismiss={dismissOp} />}

      <div className="border-b border-slate-200 dark:border-slate-800">
        <div className="-mb-px flex gap-1" role="tablist" aria-label={`${name} sections`} onKeyDown={onTabKey}>
          {TABS.map((t) => (
            <button
              key={t}
              ref={(el) => { tabRefs.current[t] = el; }}
              id={`tab-${t}`}
              role="tab"
              aria-selected={tab === t}
              aria-controls={`panel-${t}`}
              tabIndex={tab === t ? 0 : -1}
              type="button"
              onClick={() => selectTab(t)}
              className={`border-b-2 px-4 py-2 text-sm font-medium capitalize ${tab === t ? "border-indigo-600 text-indigo-700 dark:text-indigo-300" : "border-transparent text-slate-500 hover:text-slate-800 dark:hover:text-slate-200"}`}
            >
              {t}
            </button>
          ))}
        </div>
      </div>

      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`} tabIndex={0} className="space-y-5 focus:outline-none">
        {tab === "overview" && <Overview view={view} busy={busy} onProfile={switchProfile} />}
        {tab === "overview" && <BlueprintPanel name={name} disabled={busy || view.status !== "running"} />}
        {tab === "services" && <Services view={view} busy={busy} onRestart={(s) => act("restart", [s])} />}
        {tab === "services" && <ServiceCharts instance={name} />}
        {tab === "snapshots" && <SnapshotsTab name={name} busy={busy} version={opsEnded} onStarted={startOp} />}
        {tab === "logs" && <LogsTab name={name} />}
        {tab === "config" && <ConfigTab name={name} onRestart={(services) => act("restart", services)} busy={busy} />}
        {tab === "mail" && <MailTab name={name} />}
        {tab === "terminal" && <TerminalPanel instance={name} />}
      </div>

      {confirmDelete && <DeleteDialog name={name} onCancel={() => setConfirmDelete(false)} onConfirm={remove} />}
    </div>
  );
}

function Row({ k, children }: { k: string; children: React.ReactNode }) {
  return (
    <div className="flex items-start gap-4 py-2">
      <dt className="w-36 shrink-0 text-sm text-slate-500">{k}</dt>
      <dd className="min-w-0 flex-1 text-sm">{children}</dd>
    </div>
  );
}

function Overview({ view, busy, onProfile }: { view: InstanceView; busy: boolean; onProfile: (p: "dev" | "prod") => void }) {
  const [secret, setSecret] = useState<{ adminUser: string; adminPassword: string } | null>(null);
  const [err, setErr] = useState<string | null>(null);
  const cron = view.cron;
  const cronAt = cron?.start;
  const cadence = view.cronCadence;
  return (
    <div className="grid gap-5 lg:grid-cols-2">
      <div className="card p-5">
        <h2 className="mb-2 font-semibold">Site</h2>
        <dl className="divide-y divide-slate-100 dark:divide-slate-800">
          <Row k="URL"><a href={view.url} target="_blank" rel="noreferrer" className="font-mono text-indigo-700 hover:underline dark:text-indigo-300" data-testid="instance-url">{view.url}</a></Row>
          <Row k="Admin login">
            {secret ? (
              <span className="font-mono" data-testid="admin-secret">{secret.adminUser} / {secret.adminPassword}</span>
            ) : (
              <button type="button" className="btn" onClick={() => api<{ adminUser: string; adminPassword: string }>(`/api/v1/instances/${view.name}/secrets`).then(setSecret).catch((e: Error) => setErr(e.message))}>
                Show admin password
              </button>
            )}
            {err && <span className="ml-2 text-rose-600">{err}</span>}
          </Row>
          <Row k="Database admin">
            <a href={`/api/v1/instances/${view.name}/dbadmin`} target="_blank" rel="noreferrer" className="text-indigo-700 hover:underline dark:text-indigo-300">Open Adminer ↗</a>
          </Row>
          <Row k="Cron last run">
            <span data-testid="cron-last-run">
              {cronAt ? <Mono>{new Date(cronAt).toLocaleString()}{cron?.exitCode !== undefined ? ` · exit ${cron.exitCode}` : ""}{cron?.durationMs !== undefined ? ` · ${(cron.durationMs / 1000).toFixed(1)} s` : ""}</Mono> : <span className="text-slate-500">not yet</span>}
            </span>
          </Row>
          {cadence && (
            <Row k="Cron cadence">
              <span data-testid="cron-cadence" title="Set idle_minutes in the php folder's cron.conf (Config tab); 0 = every minute, always">
                {cadence.cadence === "idle"
                  ? `every ${cadence.idleMinutes} min while idle (since ${new Date(cadence.since).toLocaleTimeString()})`
                  : cadence.idleMinutes > 0 ? `every minute while in use (idle after ${cadence.idleMinutes} min)` : "every minute"}
              </span>
            </Row>
          )}
        </dl>
      </div>
      <div className="card p-5">
        <h2 className="mb-2 font-semibold">Stack</h2>
        <dl className="divide-y divide-slate-100 dark:divide-slate-800">
          <Row k="Moodle"><Mono>{view.moodle} ({view.release})</Mono></Row>
          {view.build && <Row k="Build"><Mono>{view.build}</Mono></Row>}
          {view.upgrade?.available && <Row k="Upgrade"><span className="text-indigo-700 dark:text-indigo-300" data-testid="upgrade-available">upgrade available: <Mono>{view.upgrade.to}</Mono></span></Row>}
          {view.vendor === false && (
            <Row k="Composer">
              <span className="text-amber-700 dark:text-amber-400" data-testid="no-vendor">
                vendor/ missing: Moodle&apos;s environment page warns &quot;Composer vendor directory not found&quot;. Official packages ship it; a git checkout needs <Mono>composer install --no-dev</Mono>.
              </span>
            </Row>
          )}
          <Row k="PHP"><Mono>{view.php}</Mono></Row>
          <Row k="Database"><Mono>{view.db}</Mono></Row>
          <Row k="Web server"><Mono>{view.web}</Mono></Row>
          <Row k="Network"><Mono>{view.subnet} · port {view.port}</Mono></Row>
          <Row k="Profile">
            <Mono>{view.profile}</Mono>
            {/* dev revalidates code on every request; prod never does (faster). Switching restarts the app. */}
            <button type="button" className="btn ml-3" data-testid="profile-switch" disabled={busy} onClick={() => onProfile(view.profile === "prod" ? "dev" : "prod")}>
              Switch to {view.profile === "prod" ? "dev" : "prod"}
            </button>
          </Row>
          <Row k="Created"><Mono>{new Date(view.createdAt).toLocaleString()}</Mono></Row>
        </dl>
      </div>
    </div>
  );
}

function Services({ view, busy, onRestart }: { view: InstanceView; busy: boolean; onRestart: (s: string) => void }) {
  return (
    <div className="card overflow-hidden">
      <table className="w-full text-sm">
        <thead className="border-b border-slate-200 text-left text-xs uppercase tracking-wide text-slate-500 dark:border-slate-800">
          <tr><th className="px-4 py-3">Service</th><th className="px-4 py-3">Container</th><th className="px-4 py-3">State</th><th className="px-4 py-3">Health</th><th /></tr>
        </thead>
        <tbody className="divide-y divide-slate-100 dark:divide-slate-800">
          {view.services.map((s) => (
            <tr key={s.service} data-service={s.service}>
              <td className="px-4 py-3"><HealthDot label={s.service} state={s.state} health={s.health} /></td>
              <td className="px-4 py-3"><Mono>{s.container}</Mono></td>
              <td className="px-4 py-3"><Mono>{s.state}</Mono></td>
              <td className="px-4 py-3"><Mono>{s.health ?? "—"}</Mono></td>
              <td className="px-4 py-3 text-right"><button type="button" className="btn" disabled={busy} onClick={() => onRestart(s.service)}>Restart</button></td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function DeleteDialog({ name, onCancel, onConfirm }: { name: string; onCancel: () => void; onConfirm: () => void }) {
  const [typed, setTyped] = useState("");
  return (
    <Dialog
      title={`Delete ${name}?`}
      description={<>This removes its containers, network, database and files. It cannot be undone. Type <span className="font-mono font-semibold">{name}</span> to confirm.</>}
      onClose={onCancel}
    >
      <input className="input font-mono" aria-label="Type the instance name" value={typed} onChange={(e) => setTyped(e.target.value)} data-autofocus />
      <div className="flex justify-end gap-2">
        <button type="button" className="btn" onClick={onCancel}>Cancel</button>
        <button type="button" className="btn-danger" disabled={typed !== name} onClick={onConfirm}>Delete forever</button>
      </div>
    </Dialog>
  );
}
