"use client";

import { useEffect, useRef, useState } from "react";
import { api, ApiError } from "../../../_lib/api";
import { EmptyState, ErrorNote } from "../../../_components/ui";

interface ConfigFile {
  path: string;
  dir: string;
  file: string;
  size: number;
  service: string;
  validator: string | null;
}

interface SaveResult {
  saved: boolean;
  validated: boolean;
  validator: string | null;
  output: string;
  restartSuggested: string[];
}

/** The version folders' files: pick, edit, save (validated by the service's own checker), restart. */
export default function ConfigTab({ name, onRestart, busy }: { name: string; onRestart: (services: string[]) => void; busy: boolean }) {
  const [files, setFiles] = useState<ConfigFile[] | null>(null);
  const [current, setCurrent] = useState<ConfigFile | null>(null);
  const [content, setContent] = useState("");
  const [original, setOriginal] = useState("");
  /** The file whose text is in the editor: until the current file has loaded, nothing can be typed or saved. */
  const [loaded, setLoaded] = useState<string | null>(null);
  const [saving, setSaving] = useState(false);
  const [result, setResult] = useState<SaveResult | null>(null);
  const [error, setError] = useState<string | null>(null);

  useEffect(() => {
    api<{ files: ConfigFile[] }>(`/api/v1/instances/${name}/config`)
      .then((r) => {
        setFiles(r.files);
        if (r.files[0]) open(r.files.find((f) => f.file === "php.ini") ?? r.files[0]);
      })
      .catch((e: Error) => setError(e.message));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [name]);

  // Only the newest open() may fill the editor: a slower, older load (the automatic first open
  // racing a click) would otherwise replace what the user typed since, and Save would write the
  // old text back — the edit silently lost.
  const loadSeq = useRef(0);
  function open(f: ConfigFile) {
    if (current?.path === f.path && content !== original) return; // same file with unsaved edits: keep them
    const seq = ++loadSeq.current;
    setCurrent(f);
    setResult(null);
    setError(null);
    api<{ content: string }>(`/api/v1/instances/${name}/config/${f.dir}/${f.file}`)
      .then((r) => {
        if (seq !== loadSeq.current) return;
        setContent(r.content);
        setOriginal(r.content);
        setLoaded(f.path);
      })
      .catch((e: Error) => {
        if (seq === loadSeq.current) setError(e.message);
      });
  }

  async function save() {
    if (!current) return;
    setSaving(true);
    setResult(null);
    setError(null);
    try {
      const r = await api<SaveResult>(`/api/v1/instances/${name}/config/${current.dir}/${current.file}`, { method: "PUT", body: { content } });
      setResult(r);
      setOriginal(content);
    } catch (e) {
      setError(e instanceof ApiError ? e.message : String(e));
    } finally {
      setSaving(false);
    }
  }

  if (files && files.length === 0) return <EmptyState title="No editable files">This instance has no files under config/.</EmptyState>;
  return (
    <div className="grid gap-4 lg:grid-cols-[16rem_1fr]">
      <div className="card h-fit p-2">
        {!files && <div className="skeleton m-2 h-24" />}
        {files?.map((f) => (
          <button
            key={f.path}
            type="button"
            onClick={() => open(f)}
            data-file={f.path}
            className={`block w-full rounded-lg px-3 py-2 text-left font-mono text-xs ${current?.path === f.path ? "bg-indigo-50 text-indigo-800 dark:bg-indigo-950 dark:text-indigo-200" : "hover:bg-slate-50 dark:hover:bg-slate-800"}`}
          >
            {f.path}
            <span className="block font-sans text-[11px] text-slate-600 dark:text-slate-400">{f.validator ? `checked by ${f.validator}` : "no checker"} · {f.service}</span>
          </button>
        ))}
      </div>
      <div className="space-y-3">
        {current && (
          <>
            <div className="flex items-center gap-2">
              <span className="font-mono text-sm font-semibold">config/{current.path}</span>
              {content !== original && <span className="rounded bg-amber-100 px-1.5 text-xs text-amber-800 dark:bg-amber-950 dark:text-amber-300">modified</span>}
              <div className="ml-auto flex gap-2">
                <button type="button" className="btn" disabled={content === original || saving} onClick={() => setContent(original)}>Revert</button>
                <button type="button" className="btn-primary" disabled={saving || loaded !== current.path} onClick={save} data-testid="config-save">
                  {saving ? (current.validator ? `Checking with ${current.validator}…` : "Saving…") : "Save"}
                </button>
              </div>
            </div>
            <textarea
              aria-label="Config file content"
              data-testid="config-editor"
              spellCheck={false}
              className="input h-[28rem] font-mono text-xs leading-relaxed"
              value={content}
              readOnly={loaded !== current.path}
              onChange={(e) => setContent(e.target.value)}
            />
          </>
        )}
        {error && <ErrorNote>{error}</ErrorNote>}
        {result && (
          <div className="rounded-lg border border-emerald-200 bg-emerald-50 p-3 text-sm dark:border-emerald-900 dark:bg-emerald-950" data-testid="config-result">
            <p className="font-medium text-emerald-800 dark:text-emerald-200">
              Saved{result.validated ? `, ${result.validator} passed` : " (no checker for this file)"}. The change takes effect after a restart.
            </p>
            {result.output && <pre className="mt-2 whitespace-pre-wrap font-mono text-xs text-slate-600 dark:text-slate-300">{result.output}</pre>}
            <button type="button" className="btn mt-2" disabled={busy} onClick={() => onRestart(result.restartSuggested)} data-testid="config-restart">
              Restart {result.restartSuggested.join(" + ")}
            </button>
          </div>
        )}
      </div>
    </div>
  );
}
