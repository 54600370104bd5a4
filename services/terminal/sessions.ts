import { randomBytes } from "node:crypto";
import type { WebSocket } from "ws";
import { audit } from "./audit";
import { openShell, type Shell } from "./shells";
import { clampSize, sameTarget, targetLabel, type TerminalTarget } from "./target";
import { wakeCron } from "../../instances/cron";

/**
 * Terminal sessions outlive a single WebSocket: a tab that reloads or loses its network for a
 * moment re-attaches with its session id and gets the recent output replayed. Without a client
 * a session lives for the grace period, then it and every process it started are killed; with a
 * client but no input for the idle limit, likewise.
 */

/** WebSocket close codes a client can act on (4000–4999 are the application's). */
export const CLOSE = {
  badRequest: 4400,
  forbidden: 4403,
  notFound: 4404,
  idle: 4408,
  conflict: 4409,
  limit: 4429,
  ended: 4000,
  takenOver: 4001,
  engine: 4503,
} as const;

export class TerminalRefusal extends Error {
  constructor(
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

function intEnv(name: string, def: number, min: number, max: number): number {
  const n = Number.parseInt(process.env[name] ?? "", 10);
  return Number.isFinite(n) ? Math.min(max, Math.max(min, n)) : def;
}

export function limits() {
  return {
    idleMs: intEnv("MDIND_TERMINAL_IDLE_SECONDS", 900, 5, 7 * 86400) * 1000,
    graceMs: intEnv("MDIND_TERMINAL_GRACE_SECONDS", 60, 1, 3600) * 1000,
    perUser: intEnv("MDIND_TERMINAL_MAX_PER_USER", 5, 1, 1000),
    total: intEnv("MDIND_TERMINAL_MAX_TOTAL", 20, 1, 10000),
  };
}

const REPLAY_CHUNKS = 100;
const REPLAY_BYTES = 64 * 1024;
/** Output waiting in the socket above this pauses the shell; below LOW it resumes. */
const HIGH_WATER = 1024 * 1024;
const LOW_WATER = 256 * 1024;

export interface Who {
  user: string;
  via: string;
  address?: string;
}

export interface Session {
  id: string;
  who: Who;
  target: TerminalTarget;
  startedAt: number;
  shell: Shell;
  client: WebSocket | null;
  replay: Buffer[];
  replayBytes: number;
  lastInput: number;
  idleTimer: NodeJS.Timeout | null;
  graceTimer: NodeJS.Timeout | null;
  drainTimer: NodeJS.Timeout | null;
  ending: boolean;
  exitCode?: number | null;
}

export interface SessionView {
  id: string;
  target: string;
  startedAt: string;
  attached: boolean;
  idleSeconds: number;
}

/**
 * One registry per process. Kept on globalThis because Next bundles the REST helper separately from
 * the server.ts import of ws.ts; both must see the same sessions.
 */
const KEY = Symbol.for("moodle-dind.terminal.sessions");
type Registry = { sessions: Map<string, Session>; pending: Map<string, number> };
function registry(): Registry {
  const g = globalThis as unknown as Record<symbol, Registry | undefined>;
  g[KEY] ??= { sessions: new Map(), pending: new Map() };
  return g[KEY];
}

export function listSessions(user?: string): SessionView[] {
  const now = Date.now();
  return [...registry().sessions.values()]
    .filter((s) => !s.ending && (user === undefined || s.who.user === user))
    .map((s) => ({
      id: s.id,
      target: targetLabel(s.target),
      startedAt: new Date(s.startedAt).toISOString(),
      attached: s.client !== null,
      idleSeconds: Math.floor((now - s.lastInput) / 1000),
    }));
}

function count(user?: string): number {
  const reg = registry();
  let n = 0;
  for (const s of reg.sessions.values()) if (!s.ending && (user === undefined || s.who.user === user)) n++;
  for (const [u, k] of reg.pending) if (user === undefined || u === user) n += k;
  return n;
}

function sendControl(ws: WebSocket | null, msg: Record<string, unknown>) {
  if (ws && ws.readyState === ws.OPEN) ws.send(JSON.stringify(msg));
}

function closeClient(ws: WebSocket | null, code: number, reason: string) {
  if (ws && (ws.readyState === ws.OPEN || ws.readyState === ws.CONNECTING)) ws.close(code, reason.slice(0, 120));
}

/** Start a new shell for `who`, within the limits. Throws TerminalRefusal or AppError. */
export async function startSession(who: Who, target: TerminalTarget, cols: number, rows: number): Promise<Session> {
  const lim = limits();
  if (count(who.user) >= lim.perUser) {
    throw new TerminalRefusal(CLOSE.limit, `at most ${lim.perUser} terminals per user; close one first`);
  }
  if (count() >= lim.total) throw new TerminalRefusal(CLOSE.limit, `at most ${lim.total} terminals in total are open`);
  const reg = registry();
  // Count the shell we are opening, so concurrent opens cannot all squeeze under the cap.
  reg.pending.set(who.user, (reg.pending.get(who.user) ?? 0) + 1);
  let shell: Shell;
  // Someone works on the site from a shell: its cron goes back to every minute.
  if (target.kind === "container") void wakeCron(target.instance);
  try {
    shell = await openShell(target, cols, rows);
  } finally {
    const k = (reg.pending.get(who.user) ?? 1) - 1;
    if (k > 0) reg.pending.set(who.user, k);
    else reg.pending.delete(who.user);
  }
  const s: Session = {
    id: randomBytes(16).toString("base64url"),
    who,
    target,
    startedAt: Date.now(),
    shell,
    client: null,
    replay: [],
    replayBytes: 0,
    lastInput: Date.now(),
    idleTimer: null,
    graceTimer: null,
    drainTimer: null,
    ending: false,
  };
  reg.sessions.set(s.id, s);
  shell.onData((chunk) => onOutput(s, chunk));
  shell.onExit((code) => {
    s.exitCode = code;
    void endSession(s, "exited");
  });
  armIdle(s);
  void audit("terminal_start", {
    id: s.id,
    user: who.user,
    via: who.via,
    address: who.address,
    target: targetLabel(target),
    containment: shell.containment,
  });
  return s;
}

/** Find a session to re-attach: same user, same target, still alive. */
export function findSession(id: string, who: Who, target: TerminalTarget): Session | null {
  const s = registry().sessions.get(id);
  if (!s || s.ending || s.who.user !== who.user || !sameTarget(s.target, target)) return null;
  return s;
}

function onOutput(s: Session, chunk: Buffer) {
  s.replay.push(chunk);
  s.replayBytes += chunk.length;
  while (s.replay.length > REPLAY_CHUNKS || (s.replayBytes > REPLAY_BYTES && s.replay.length > 1)) {
    s.replayBytes -= s.replay.shift()!.length;
  }
  const ws = s.client;
  if (!ws || ws.readyState !== ws.OPEN) return;
  ws.send(chunk, { binary: true });
  if (ws.bufferedAmount > HIGH_WATER && !s.drainTimer) {
    s.shell.pause();
    s.drainTimer = setInterval(() => {
      if (!s.client || s.client.bufferedAmount < LOW_WATER) {
        if (s.drainTimer) clearInterval(s.drainTimer);
        s.drainTimer = null;
        s.shell.resume();
      }
    }, 50);
  }
}

function armIdle(s: Session) {
  if (s.idleTimer) clearTimeout(s.idleTimer);
  const { idleMs } = limits();
  const due = s.lastInput + idleMs - Date.now();
  s.idleTimer = setTimeout(() => {
    s.idleTimer = null;
    if (Date.now() - s.lastInput >= idleMs) void endSession(s, "idle");
    else armIdle(s);
  }, Math.max(0, due));
  s.idleTimer.unref?.();
}

/** Bind a WebSocket to a session: replay recent output, then stream. An older client is closed. */
export function attach(s: Session, ws: WebSocket, opts: { resumed: boolean; cols: number; rows: number }) {
  if (s.graceTimer) clearTimeout(s.graceTimer);
  s.graceTimer = null;
  const previous = s.client;
  s.client = ws;
  if (previous && previous !== ws) closeClient(previous, CLOSE.takenOver, "this terminal was opened in another tab");
  const { idleMs, graceMs } = limits();
  sendControl(ws, {
    type: "hello",
    session: s.id,
    target: targetLabel(s.target),
    resumed: opts.resumed,
    idleSeconds: Math.round(idleMs / 1000),
    graceSeconds: Math.round(graceMs / 1000),
  });
  if (opts.resumed) {
    for (const chunk of s.replay) ws.send(chunk, { binary: true });
    s.shell.resize(opts.cols, opts.rows);
  }
  if (s.drainTimer === null) s.shell.resume();

  ws.on("message", (data, isBinary) => {
    if (s.client !== ws || s.ending) return;
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data as ArrayBuffer);
    if (isBinary) {
      s.lastInput = Date.now();
      s.shell.write(buf);
      return;
    }
    onControl(s, ws, buf);
  });
  ws.on("close", () => detach(s, ws));
  ws.on("error", () => detach(s, ws));
}

function onControl(s: Session, ws: WebSocket, buf: Buffer) {
  let msg: unknown;
  try {
    msg = JSON.parse(buf.toString("utf8"));
  } catch {
    sendControl(ws, { type: "error", message: "control messages are JSON; terminal input goes in binary frames" });
    return;
  }
  const m = msg as { type?: unknown; cols?: unknown; rows?: unknown };
  if (m.type === "resize") {
    const size = clampSize(m.cols, m.rows);
    if (!size) {
      sendControl(ws, { type: "error", message: "resize needs numeric cols and rows" });
      return;
    }
    s.lastInput = Date.now();
    s.shell.resize(size.cols, size.rows);
  } else if (m.type === "close") {
    // The user closed the terminal tab: no grace period, end it now.
    void endSession(s, "closed");
  } else if (m.type === "ping") {
    sendControl(ws, { type: "pong" });
  } else {
    sendControl(ws, { type: "error", message: "unknown control message" });
  }
}

function detach(s: Session, ws: WebSocket) {
  if (s.client !== ws) return;
  s.client = null;
  if (s.ending) return;
  const { graceMs } = limits();
  if (s.graceTimer) clearTimeout(s.graceTimer);
  s.graceTimer = setTimeout(() => void endSession(s, "disconnected"), graceMs);
  s.graceTimer.unref?.();
}

/** Kill the shell and everything it started, tell the client why, write the audit line. */
export async function endSession(s: Session, reason: "exited" | "closed" | "idle" | "disconnected" | "shutdown") {
  if (s.ending) return;
  s.ending = true;
  for (const t of [s.idleTimer, s.graceTimer]) if (t) clearTimeout(t);
  if (s.drainTimer) clearInterval(s.drainTimer);
  const reaped = await s.shell.end();
  registry().sessions.delete(s.id);
  // Let the exit code arrive if the shell is going down now.
  if (s.exitCode === undefined) await new Promise((r) => setTimeout(r, 300));
  const code = s.exitCode ?? null;
  sendControl(s.client, { type: "exit", code, reason });
  closeClient(s.client, reason === "idle" ? CLOSE.idle : CLOSE.ended, reason === "idle" ? "idle for too long" : `session ${reason}`);
  await audit("terminal_end", {
    id: s.id,
    user: s.who.user,
    target: targetLabel(s.target),
    durationMs: Date.now() - s.startedAt,
    exitCode: code,
    reason,
    reaped: reaped.ok,
    reaperDetail: reaped.ok ? undefined : reaped.detail,
  });
}

/** End every session (dashboard shutdown): the engine would otherwise keep the shells running. */
export async function endAllSessions(): Promise<void> {
  await Promise.all([...registry().sessions.values()].map((s) => endSession(s, "shutdown")));
}
