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

interface BuildLite {
  id: string;
  branch: string;
  release: string;
  vendor: boolean;
}

interface Meta {
  matrix: Branch[];
  defaultMoodle: string | null;
  nameRule: { pattern: string; message: string };
  /** The library, newest first. */
  builds: BuildLite[];
  /** The CI fixture app is on offer (tests and development only). */
  fixture: boolean;
  /** Branches that can be downloaded now (empty when Moodle's download site does not answer). */
  downloads: string[];
}

/** One entry of the Moodle select: a library build, a download of a branch, or the fixture app. */
interface MoodleOption {
  value: string;
  label: string;
  branch: string;
}

const DOWNLOAD = "download:";

function moodleOptions(m: Meta): MoodleOption[] {
  const have = new Set(m.builds.map((b) => b.branch));
  return [
    ...m.builds.map((b) => ({ value: b.id, branch: b.branch, label: `Moodle ${b.release}${b.vendor ? "" : " (no vendor/)"}` })),
    ...m.downloads.filter((b) => !have.has(b)).map((b) => ({ value: `${DOWNLOAD}${b}`, branch: b, label: `Download Moodle ${b} (newest release)` })),
    ...(m.fixture ? [{ value: "fixture", branch: "fixture", label: "fixture (CI test app)" }] : []),
  ];
}

/** The option a branch, release or build id names: a build of it first, else its download. */
function optionFor(options: MoodleOption[], want: string | null | undefined): string | undefined {
  if (!want) return undefined;
  return (options.find((o) => o.value === want) ?? options.find((o) => o.branch === want))?.value;
}

const prefer = (allowed: string[], wanted: string | undefined) => (wanted && allowed.includes(wanted) ? wanted : allowed[allowed.length - 1]);

export default function CreateForm() {
  const [matrix, setMatrix] = useState<Branch[] | null>(null);
  const [options, setOptions] = useState<MoodleOption[]>([]);
  const [download, setDownload] = useState<{ branch: string; opId: string } | null>(null);
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
      const opts = moodleOptions(m);
      setOptions(opts);
      // The first click works: the configured default, else the newest build, else a download.
      setMoodle(optionFor(opts, m.defaultMoodle) ?? opts[0]?.value ?? "");
    }).catch((e: Error) => setError({ message: e.message }));
  }, []);

  const chosen = options.find((o) => o.value === moodle);
  const branch = useMemo(() => matrix?.find((b) => b.branch === chosen?.branch), [matrix, chosen]);
  // Only valid combinations: every dependent choice snaps to what the branch allows. The stored
  // choice stays as the user left it; what is shown and sent is the effective value.
  const effPhp = !branch || branch.php.includes(php) ? php : prefer(branch.php, branch.defaults.php);
  const effDbVersion = !branch || branch[dbEngine].includes(dbVersion) ? dbVersion : prefer(branch[dbEngine], branch.defaults[dbEngine]);
  const effWebVersion = !branch || branch.web[web].includes(webVersion) ? webVersion : prefer(branch.web[web], branch.defaults[web]);

  useEffect(
    () => applyPreferredVersions(blueprint, matrix, (b) => setMoodle((cur) => optionFor(options, b) ?? cur), setPhp),
    [blueprint, matrix, options],
  );

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
  // A "download X.Y" choice: the package comes into the library first (its progress shows here),
  // then the create runs on that branch's new build.
  useEvents(
    {
      op: (d) => {
        const ev = d as OpEventLite;
        if (!download || ev.opId !== download.opId) return;
        setEvents((cur) => (cur.some((x) => x.seq === ev.seq) ? cur : [...cur, ev]));
        if (ev.type === "done") void createNow(download.branch);
        if (ev.type === "error") setDownload(null);
      },
    },
    "?instance=_moodle&after=0",
    download !== null,
  );

  const nameError = name && nameRule && !nameRule.re.test(name) ? nameRule.message : null;
  const finished = events.find((e) => e.type === "done" || e.type === "error");

  async function submit(e: React.FormEvent) {
    e.preventDefault();
    if (moodle.startsWith(DOWNLOAD)) {
      setError(null);
      setSubmitting(true);
      try {
        const branchToGet = moodle.slice(DOWNLOAD.length);
        const r = await api<{ operation: string }>("/api/v1/moodle/download", { method: "POST", body: { version: branchToGet } });
        setEvents([]);
        setDownload({ branch: branchToGet, opId: r.operation });
      } catch (err) {
        setError(err instanceof ApiError ? { message: err.message, field: "moodle" } : { message: String(err) });
      } finally {
        setSubmitting(false);
      }
      return;
    }
    await createNow(moodle);
  }

  async function createNow(moodleValue: string) {
    setError(null);
    setSubmitting(true);
    try {
      const body: Record<string, unknown> = { name, moodle: moodleValue, php: effPhp, db: `${dbEngine}:${effDbVersion}`, web, webVersion: effWebVersion };
      if (blueprint.trim()) body.blueprint = blueprint;
      const r = await api<{ name: string; operation: string }>("/api/v1/instances", { method: "POST", body });
      setEvents([]);
      setStarted({ name: r.name, opId: r.operation });
    } catch (err) {
      setError(err instanceof ApiError ? { message: err.message, field: err.field } : { message: String(err) });
    } finally {
      setSubmitting(false);
      setDownload(null);
    }
  }

  const fieldCls = (f: string) => (error?.field === f ? "input border-rose-500" : "input");

  if (download && !started) {
    return (
      <div className="mx-auto max-w-2xl space-y-5">
        <h1 className="text-2xl font-semibold">Downloading Moodle {download.branch} for <span className="font-mono">{name}</span></h1>
        <div className="card p-5">
          {events.length === 0 ? <p className="text-sm text-slate-500">Starting…</p> : <StepList events={events} />}
          {events.filter((e) => e.type === "log").slice(-1).map((e) => <p key={e.seq} className="mt-2 font-mono text-xs text-slate-500">{e.message}</p>)}
        </div>
      </div>
    );
  }

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
      {matrix && options.length === 0 && (
        <div className="card space-y-3 p-6" data-testid="no-moodle">
          <p className="text-sm">There is no Moodle in the library yet, and Moodle&apos;s download site does not answer from here.</p>
          <p className="text-sm text-slate-600 dark:text-slate-400">
            Upload an official package on the Moodle page, or put a Moodle tree or package in <span className="font-mono">moodle-sources/</span> beside
            the repository and start again.
          </p>
          <Link href="/moodle" className="btn-primary inline-block">Add Moodle</Link>
        </div>
      )}
      {matrix && options.length > 0 && (
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
                {options.map((o) => <option key={o.value} value={o.value}>{o.label}</option>)}
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
                aria-label="Blueprint file (.json)"
                accept=".json,application/json"
                className="text-sm"
                onChange={async (e) => {
                  const f = e.target.files?.[0];
                  if (f) setBlueprint(await f.text());
                }}
              />
              <textarea aria-label="Blueprint JSON" className={`${fieldCls("blueprint")} h-40 font-mono text-xs`} value={blueprint} onChange={(e) => setBlueprint(e.target.value)} placeholder='{"steps": [ … ]}' />
            </div>
          </details>
          {error && <ErrorNote>{error.message}</ErrorNote>}
          <div className="flex items-center justify-end gap-2">
            <Link href="/" className="btn">Cancel</Link>
            <button type="submit" className="btn-primary" disabled={submitting || !name || !!nameError || !chosen}>
              {submitting ? "Starting…" : "Create instance"}
            </button>
          </div>
        </div>
      )}
      {!matrix && error && <ErrorNote>{error.message}</ErrorNote>}
    </form>
  );
}
