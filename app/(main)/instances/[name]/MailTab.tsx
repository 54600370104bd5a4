"use client";

import { useEffect, useState } from "react";
import { api } from "../../../_lib/api";
import { EmptyState, ErrorNote } from "../../../_components/ui";

interface Summary {
  id: string;
  from: string;
  to: string[] | string;
  subject: string;
  date: string | null;
  size: number;
}

interface Message {
  html: string | null;
  text: string | null;
  headers: { key: string; value: string }[];
  attachmentList?: { filename: string; size: number }[];
}

/** Mail the instance sent, caught on the host. HTML is shown in a sandboxed frame, never inline. */
export default function MailTab({ name }: { name: string }) {
  const [list, setList] = useState<Summary[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sel, setSel] = useState<Summary | null>(null);
  const [msg, setMsg] = useState<Message | null>(null);

  const load = () =>
    api<{ messages: Summary[] }>(`/api/v1/instances/${name}/mail`)
      .then((r) => setList(r.messages))
      .catch((e: Error) => setError(e.message));
  useEffect(() => {
    load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [name]);

  function open(m: Summary) {
    setSel(m);
    setMsg(null);
    api<Message>(`/api/v1/instances/${name}/mail/${m.id}`).then(setMsg).catch((e: Error) => setError(e.message));
  }

  if (error) return <ErrorNote>{error}</ErrorNote>;
  if (!list) return <div className="skeleton h-40 w-full" />;
  if (list.length === 0) {
    return (
      <EmptyState title="No mail yet" action={<button type="button" className="btn" onClick={load}>Refresh</button>}>
        Mail this Moodle sends is caught here instead of being delivered.
      </EmptyState>
    );
  }
  return (
    <div className="grid gap-4 lg:grid-cols-[22rem_1fr]">
      <div className="card divide-y divide-slate-100 overflow-hidden dark:divide-slate-800">
        {list.map((m) => (
          <button key={m.id} type="button" onClick={() => open(m)} className={`block w-full px-4 py-3 text-left ${sel?.id === m.id ? "bg-indigo-50 dark:bg-indigo-950" : "hover:bg-slate-50 dark:hover:bg-slate-800"}`}>
            <span className="block truncate text-sm font-medium">{m.subject || "(no subject)"}</span>
            <span className="block truncate text-xs text-slate-600 dark:text-slate-400">{m.from} → {Array.isArray(m.to) ? m.to.join(", ") : m.to}</span>
            {m.date && <span className="block font-mono text-[11px] text-slate-600 dark:text-slate-400">{new Date(m.date).toLocaleString()}</span>}
          </button>
        ))}
      </div>
      <div className="card min-h-80 p-4">
        {!sel && <p className="text-sm text-slate-500">Pick a message.</p>}
        {sel && !msg && <div className="skeleton h-60 w-full" />}
        {sel && msg && (
          <div className="space-y-3">
            <h3 className="font-semibold">{sel.subject}</h3>
            {msg.html ? (
              <iframe title="Message" sandbox="" srcDoc={msg.html} className="h-96 w-full rounded-lg border border-slate-200 bg-white dark:border-slate-700" />
            ) : (
              <pre className="whitespace-pre-wrap font-mono text-xs">{msg.text}</pre>
            )}
            {!!msg.attachmentList?.length && (
              <p className="text-xs text-slate-500">Attachments: {msg.attachmentList.map((a) => a.filename).join(", ")}</p>
            )}
          </div>
        )}
      </div>
    </div>
  );
}
