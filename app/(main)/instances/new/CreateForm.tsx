"use client";

import Link from "next/link";
import { useEffect, useMemo, useState } from "react";
import { api, ApiError } from "../../../_lib/api";
import { useEvents } from "../../../_lib/events";
import { ErrorNote, StepList, type OpEventLite } from "../../../_components/ui";
import { applyPreferredVersions } from "../../../components/BlueprintPanel";

interface Branch {
  branch: string;
  php: string[];
  postgres: string[];
  mariadb: string[];
  web: { nginx: string[]; apache: string[] };
  /** First-click defaults from the server's version table: images already on the engine first. */
  defaults: { php: string; postgres: string; mariadb: string; nginx: string; apache: string };
}

interface Meta {
  matrix: Branch[];
  defaultMoodle: string | null;
  nameRule: { pattern: string; message: string };
}

const prefer = (allowed: string[], wanted: string | undefined) => (wanted && allowed.includes(wanted) ? wanted : allowed[allowed.length - 1]);

export default function CreateForm() {
  const [matrix, setMatrix] = useState<Branch[] | null>(null);
  const [nameRule, setNameRule] = useState<{ re: RegExp; message: string } | null>(null);
  const [name, setName] = useState("");
  const [moodle, setMoodle] = useState("");
  const [php, setPhp] = useState("");
  const [dbEngine, setDbEngine] = useState<"postgres" | "mariadb">("postgres");
  const [dbVersion, setDbVersion] = useState("");
  const [web, setWeb] = useState<"nginx" | "apache">("nginx");
  const [webVersion, setWebVersion] = useState("");
  const [blueprint, setBlueprint] = useState("");
  const [error, setError] = useState<{ message: string; field?: string } | null>(null);
  const [submitting, setSubmitting] = useState(false);
  const [started, setStarted] = useState<{ name: string; opId: string } | null>(null);
  const [events, setEvents] = useState<OpEventLite[]>([]);

  useEffect(() => {
    api<Meta>("/api/v1/meta").then((m) => {
      setMatrix(m.matrix);
      setNameRule({ re: new RegExp(m.nameRule.pattern), message: m.nameRule.message });
      const real = m.matrix.filter((b) => b.branch !== "fixture");
      setMoodle(m.defaultMoodle && m.matrix.some((b) => b.branch === m.defaultMoodle) ? m.defaultMoodle : real[real.length - 1]?.branch ?? "fixture");
    }).catch((e: Error) => setError({ message: e.message }));
  }, []);

  const branch = useMemo(() => matrix?.find((b) => b.branch === moodle), [matrix, moodle]);
  // Only valid combinations: every dependent choice snaps to what the branch allows. The stored
  // choice stays as the user left it; what is shown and sent is the effective value.
  const effPhp = !branch || branch.php.includes(php) ? php : prefer(branch.php, branch.defaults.php);
  const effDbVersion = !branch || branch[dbEngine].includes(dbVersion) ? dbVersion : prefer(branch[dbEngine], branch.defaults[dbEngine]);
  const effWebVersion = !branch || branch.web[web].includes(webVersion) ? webVersion : prefer(branch.web[web], branch.defaults[web]);

  useEffect(() => applyPreferredVersions(blueprint, matrix, setMoodle, setPhp), [blueprint, matrix]);

  useEvents(
    {
      op: (d) => {
        const ev = d as OpEventLite;
        if (started && ev.opId === started.opId) setEvents((cur) => (cur.some((x) => x.seq === ev.seq) ? cur : [...cur, ev]));
      },
    },
    started ? `?instance=${encodeURIComponent(started.name)}&after=0` : "",
    started !== null,
  );

  const nameError = name && nameRule && !nameRule.re.test(name) ? nameRule.message : null;
  const finished = events.find((e) => e.type === "done" || e.type === "error");

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    setError(null);
    setSubmitting(true);
    try {
      const body: Record<string, unknown> = { name, moodle, php: effPhp, db: `${dbEngine}:${effDbVersion}`, web, webVersion: effWebVersion };
      if (blueprint.trim()) body.blueprint = blueprint;
      const r = await api<{ name: string; operation: string }>("/api/v1/instances", { method: "POST", body });
      setEvents([]);
      setStarted({ name: r.name, opId: r.operation });
    } catch (err) {
      setError(err instanceof ApiError ? { message: err.message, field: err.field } : { message: String(err) });
    } finally {
      setSubmitting(false);
    }
  }

  const fieldCls = (f: string) => (error?.field === f ? "input border-rose-500" : "input");

  if (started) {
    return (
      <div className="mx-auto max-w-2xl space-y-5">
        <h1 className="text-2xl font-semibold">Creating <span className="font-mono">{started.name}</span></h1>
        <div className="card p-5">
          {events.length === 0 ? <p className="text-sm text-slate-500">Starting…</p> : <StepList events={events} />}
        </div>
        {finished?.type === "done" && (
          <div className="flex gap-2">
            <Link href={`/instances/${started.name}`} className="btn-primary" data-testid="open-instance">Open {started.name}</Link>
            <Link href="/" className="btn">All instances</Link>
          </div>
        )}
        {finished?.type === "error" && (
          <div className="flex gap-2">
            <button type="button" className="btn" onClick={() => { setStarted(null); setEvents([]); }}>Back to the form</button>
          </div>
        )}
      </div>
    );
  }

  return (
    <form onSubmit={submit} className="mx-auto max-w-2xl space-y-5">
      <h1 className="text-2xl font-semibold">New instance</h1>
      {!matrix && !error && <div className="skeleton h-64 w-full" />}
      {matrix && (
        <div className="card space-y-5 p-6">
          <div>
            <label htmlFor="name" className="label">Name</label>
            <input id="name" name="name" className={`${fieldCls("name")} font-mono`} value={name} onChange={(e) => setName(e.target.value.trim())} placeholder="my-moodle" autoFocus />
            {nameError && <p className="mt-1 text-xs text-rose-600">{nameError}</p>}
          </div>
          <div className="grid grid-cols-1 gap-4 sm:grid-cols-2">
            <div>
              <label htmlFor="moodle" className="label">Moodle</label>
              <select id="moodle" className={fieldCls("moodle")} value={moodle} onChange={(e) => setMoodle(e.target.value)}>
                {matrix.map((b) => <option key={b.branch} value={b.branch}>{b.branch === "fixture" ? "fixture (CI test app)" : `Moodle ${b.branch}`}</option>)}
              </select>
            </div>
            <div>
              <label htmlFor="php" className="label">PHP</label>
              <select id="php" className={fieldCls("php")} value={effPhp} onChange={(e) => setPhp(e.target.value)}>
                {branch?.php.map((v) => <option key={v} value={v}>PHP {v}</option>)}
              </select>
            </div>
            <div>
              <label htmlFor="db" className="label">Database</label>
              <div className="flex gap-2">
                <select id="db" className={fieldCls("db")} value={dbEngine} onChange={(e) => setDbEngine(e.target.value as "postgres" | "mariadb")}>
                  <option value="postgres">PostgreSQL</option>
                  <option value="mariadb">MariaDB</option>
                </select>
                <select aria-label="Database version" className={fieldCls("db")} value={effDbVersion} onChange={(e) => setDbVersion(e.target.value)}>
                  {branch?.[dbEngine].map((v) => <option key={v} value={v}>{v}</option>)}
                </select>
              </div>
            </div>
            <div>
              <label htmlFor="web" className="label">Web server</label>
              <div className="flex gap-2">
                <select id="web" className={fieldCls("web")} value={web} onChange={(e) => setWeb(e.target.value as "nginx" | "apache")}>
                  <option value="nginx">nginx</option>
                  <option value="apache">Apache</option>
                </select>
                <select aria-label="Web server version" className={fieldCls("webVersion")} value={effWebVersion} onChange={(e) => setWebVersion(e.target.value)}>
                  {branch?.web[web].map((v) => <option key={v} value={v}>{v}</option>)}
                </select>
              </div>
            </div>
          </div>
          <details className="rounded-lg border border-dashed border-slate-300 p-3 dark:border-slate-700">
            <summary className="cursor-pointer text-sm font-medium">Blueprint (optional)</summary>
            <div className="mt-3 space-y-2">
              <input
                type="file"
                accept=".json,application/json"
                className="text-sm"
                onChange={async (e) => {
                  const f = e.target.files?.[0];
                  if (f) setBlueprint(await f.text());
                }}
              />
              <textarea className={`${fieldCls("blueprint")} h-40 font-mono text-xs`} value={blueprint} onChange={(e) => setBlueprint(e.target.value)} placeholder='{"steps": [ … ]}' />
            </div>
          </details>
          {error && <ErrorNote>{error.message}</ErrorNote>}
          <div className="flex items-center justify-end gap-2">
            <Link href="/" className="btn">Cancel</Link>
            <button type="submit" className="btn-primary" disabled={submitting || !name || !!nameError}>
              {submitting ? "Starting…" : "Create instance"}
            </button>
          </div>
        </div>
      )}
      {!matrix && error && <ErrorNote>{error.message}</ErrorNote>}
    </form>
  );
}
