"use client";

import { useEffect, useEffectEvent, useImperativeHandle, useRef, useState, type Ref } from "react";
import type { Terminal } from "@xterm/xterm";

/** What one terminal connects to; mirrors services/terminal/target.ts. */
export type TermTarget = { kind: "host" } | { kind: "container"; instance: string; service: "db" | "app" | "web" | "cron" };

export interface TerminalHandle {
  /** End the shell now (the user closed the tab): no grace period on the server. */
  close(): void;
  copy(): Promise<void>;
  paste(): Promise<void>;
  focus(): void;
}

type Status = "connecting" | "open" | "reconnecting" | "ended" | "refused";

/** Close codes from services/terminal/sessions.ts. */
const CLOSE_ENDED = 4000;
const CLOSE_TAKEN_OVER = 4001;
const CLOSE_NOT_FOUND = 4404;
const CLOSE_IDLE = 4408;
const CLOSE_CONFLICT = 4409;
const CLOSE_LIMIT = 4429;
const CLOSE_ENGINE = 4503;
const MAX_COLS = 500;
const MAX_ROWS = 200;

const storageKey = (tabKey: string) => `mdind-term-session:${tabKey}`;

function socketUrl(target: TermTarget, cols: number, rows: number, session: string | null): string {
  const q = new URLSearchParams();
  if (target.kind === "host") q.set("target", "host");
  else {
    q.set("instance", target.instance);
    q.set("service", target.service);
  }
  q.set("cols", String(Math.min(MAX_COLS, Math.max(1, cols))));
  q.set("rows", String(Math.min(MAX_ROWS, Math.max(1, rows))));
  if (session) q.set("session", session);
  const proto = window.location.protocol === "https:" ? "wss:" : "ws:";
  return `${proto}//${window.location.host}/api/v1/terminal?${q.toString()}`;
}

/**
 * One xterm.js terminal bound to one server session. Input goes out as binary frames, control
 * (resize, close) as JSON text frames; output comes back as binary frames. A dropped connection
 * re-attaches with the session id and the server replays the recent output.
 */
export default function TerminalView({
  tabKey,
  target,
  active,
  onStatus,
  ref,
}: {
  tabKey: string;
  target: TermTarget;
  active: boolean;
  onStatus?: (s: Status, note?: string) => void;
  ref?: Ref<TerminalHandle>;
}) {
  const host = useRef<HTMLDivElement>(null);
  const termRef = useRef<Terminal | null>(null);
  const wsRef = useRef<WebSocket | null>(null);
  const closingRef = useRef(false);
  const [status, setStatus] = useState<Status>("connecting");
  const [note, setNote] = useState<string>("");
  const [generation, setGeneration] = useState(0);
  // Effect Events: the connection (set up once per tab) reads the latest props through these.
  const notifyStatus = useEffectEvent((s: Status, n: string) => onStatus?.(s, n));
  const isActive = useEffectEvent(() => active);
  // tabKey identifies the terminal and its target never changes, so the latest target is the one.
  const urlFor = useEffectEvent((cols: number, rows: number, session: string | null) => socketUrl(target, cols, rows, session));

  useImperativeHandle(ref, () => ({
    close() {
      closingRef.current = true;
      const ws = wsRef.current;
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify({ type: "close" }));
      sessionStorage.removeItem(storageKey(tabKey));
    },
    // Focus goes back to the terminal at once, before the clipboard answers: a key pressed while
    // readText() is pending would otherwise land on the button (Enter would click Paste again).
    async copy() {
      const sel = termRef.current?.getSelection();
      termRef.current?.focus();
      if (sel) await navigator.clipboard.writeText(sel);
    },
    async paste() {
      termRef.current?.focus();
      const text = await navigator.clipboard.readText();
      // term.paste() applies bracketed paste when the shell asked for it, like a typed paste.
      if (text) termRef.current?.paste(text);
    },
    focus() {
      termRef.current?.focus();
    },
  }));

  useEffect(() => {
    const el = host.current;
    if (!el) return;
    let disposed = false;
    let retry: ReturnType<typeof setTimeout> | null = null;
    let attempts = 0;
    let ro: ResizeObserver | null = null;
    let term: Terminal | null = null;
    const enc = new TextEncoder();

    const report = (s: Status, n = "") => {
      setStatus(s);
      setNote(n);
      notifyStatus(s, n);
    };

    const send = (data: string | Uint8Array<ArrayBuffer>) => {
      const ws = wsRef.current;
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(data);
    };

    (async () => {
      const [{ Terminal }, { FitAddon }, { WebLinksAddon }, { ClipboardAddon }] = await Promise.all([
        import("@xterm/xterm"),
        import("@xterm/addon-fit"),
        import("@xterm/addon-web-links"),
        import("@xterm/addon-clipboard"),
      ]);
      if (disposed) return;
      term = new Terminal({
        cursorBlink: true,
        fontFamily: 'ui-monospace, "SFMono-Regular", "JetBrains Mono", Menlo, Consolas, monospace',
        fontSize: 13,
        scrollback: 5000,
        theme: { background: "#0b1020", foreground: "#e2e8f0", cursor: "#a5b4fc", selectionBackground: "#4f46e580" },
      });
      termRef.current = term;
      const fit = new FitAddon();
      term.loadAddon(fit);
      term.loadAddon(new WebLinksAddon());
      // Programs may set the clipboard (OSC 52, e.g. from vim or tmux) but never read it: a process
      // in a container has no business seeing what the user copied elsewhere.
      term.loadAddon(
        new ClipboardAddon(undefined, {
          readText: () => "",
          writeText: (_sel, text) => navigator.clipboard.writeText(text),
        }),
      );
      term.open(el);
      const t = term;

      // Ctrl+Shift+C copies (and must not open the browser's inspector); Ctrl+Shift+V is left to the
      // browser, whose paste event xterm turns into a (bracketed) paste. Plain Ctrl+C stays SIGINT.
      t.attachCustomKeyEventHandler((ev) => {
        if (ev.type !== "keydown" || !ev.ctrlKey || !ev.shiftKey) return true;
        if (ev.code === "KeyC") {
          const sel = t.getSelection();
          if (sel) void navigator.clipboard.writeText(sel).catch(() => undefined);
          ev.preventDefault();
          return false;
        }
        if (ev.code === "KeyV") return false;
        return true;
      });

      const refit = () => {
        // A hidden tab has no size; fitting it would shrink the shell to nothing.
        if (!el.offsetWidth || !el.offsetHeight) return;
        try {
          fit.fit();
        } catch {
          // the renderer is not ready yet; the next observation fits
        }
      };
      ro = new ResizeObserver(() => requestAnimationFrame(refit));
      ro.observe(el);
      refit();

      t.onResize(({ cols, rows }) => send(JSON.stringify({ type: "resize", cols, rows })));
      // Big pastes go out in slices well under the server's 1 MiB frame limit.
      t.onData((d) => {
        const bytes = enc.encode(d);
        for (let i = 0; i < bytes.length; i += 64 * 1024) send(bytes.subarray(i, i + 64 * 1024));
      });
      t.onBinary((d) => {
        const bytes = new Uint8Array(d.length);
        for (let i = 0; i < d.length; i++) bytes[i] = d.charCodeAt(i) & 0xff;
        send(bytes);
      });

      const connect = () => {
        if (disposed) return;
        const session = sessionStorage.getItem(storageKey(tabKey));
        report(session && attempts > 0 ? "reconnecting" : "connecting");
        const ws = new WebSocket(urlFor(t.cols, t.rows, session));
        ws.binaryType = "arraybuffer";
        wsRef.current = ws;
        let ended = false;
        ws.onmessage = (ev) => {
          if (typeof ev.data !== "string") {
            t.write(new Uint8Array(ev.data as ArrayBuffer));
            return;
          }
          let msg: { type?: string; session?: string; resumed?: boolean; code?: number | null; reason?: string; message?: string };
          try {
            msg = JSON.parse(ev.data);
          } catch {
            return;
          }
          if (msg.type === "hello" && msg.session) {
            attempts = 0;
            sessionStorage.setItem(storageKey(tabKey), msg.session);
            // The replay that follows redraws the recent output; start from a clean screen.
            if (msg.resumed) t.reset();
            report("open");
            if (isActive()) t.focus();
          } else if (msg.type === "exit") {
            ended = true;
            sessionStorage.removeItem(storageKey(tabKey));
            const why = msg.reason === "idle" ? "idle for too long" : msg.reason === "exited" ? `exited with code ${msg.code ?? "?"}` : msg.reason;
            t.write(`\r\n\x1b[2m[shell ended: ${why}]\x1b[0m\r\n`);
          } else if (msg.type === "error" && msg.message) {
            t.write(`\r\n\x1b[31m${msg.message}\x1b[0m\r\n`);
          }
        };
        ws.onclose = (ev) => {
          if (wsRef.current === ws) wsRef.current = null;
          if (disposed) return;
          if (closingRef.current) return;
          if (ended || ev.code === CLOSE_ENDED || ev.code === CLOSE_IDLE) {
            sessionStorage.removeItem(storageKey(tabKey));
            return report("ended", ev.code === CLOSE_IDLE ? "ended after being idle" : "the shell has ended");
          }
          if (ev.code === CLOSE_NOT_FOUND && session) {
            // Our old session is gone (grace period over); start a fresh shell.
            sessionStorage.removeItem(storageKey(tabKey));
            t.write("\r\n\x1b[2m[previous session has ended; starting a new shell]\x1b[0m\r\n");
            attempts = 0;
            return connect();
          }
          if (ev.code === CLOSE_TAKEN_OVER) return report("refused", "this terminal was opened in another browser tab");
          if (ev.code === CLOSE_LIMIT || ev.code === CLOSE_CONFLICT || ev.code === CLOSE_ENGINE || ev.code === CLOSE_NOT_FOUND) {
            return report("refused", ev.reason || "the server refused the terminal");
          }
          // A dropped connection (network, server restart): retry with backoff, re-attaching.
          attempts += 1;
          if (attempts > 8) return report("refused", "cannot reach the server (or the request was refused)");
          report("reconnecting");
          retry = setTimeout(connect, Math.min(10_000, 500 * 2 ** (attempts - 1)));
        };
      };
      connect();
    })();

    return () => {
      disposed = true;
      if (retry) clearTimeout(retry);
      ro?.disconnect();
      // Leaving the page detaches; the server keeps the shell for its grace period so coming back
      // (or a reload) re-attaches. Closing the tab in the UI ends it at once (close()).
      wsRef.current?.close(1000, "detached");
      wsRef.current = null;
      term?.dispose();
      termRef.current = null;
    };
    // tabKey identifies the terminal (its target never changes); a new generation is a restart.
  }, [tabKey, generation]);

  useEffect(() => {
    if (active) termRef.current?.focus();
  }, [active]);

  return (
    <div className="flex h-full min-h-0 flex-col" data-testid="terminal-view" data-status={status}>
      {(status === "ended" || status === "refused" || status === "reconnecting") && (
        <div className="flex items-center gap-3 border-b border-slate-800 bg-slate-900 px-3 py-1.5 text-xs text-slate-300">
          <span data-testid="terminal-note">{status === "reconnecting" ? "Connection lost, reconnecting…" : note}</span>
          {(status === "ended" || status === "refused") && (
            <button
              type="button"
              className="rounded border border-slate-600 px-2 py-0.5 hover:bg-slate-800"
              onClick={() => {
                closingRef.current = false;
                sessionStorage.removeItem(storageKey(tabKey));
                setGeneration((g) => g + 1);
              }}
            >
              New shell
            </button>
          )}
        </div>
      )}
      <div ref={host} className="min-h-0 flex-1 overflow-hidden bg-[#0b1020] p-1" data-testid="terminal-screen" />
    </div>
  );
}
