import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { authenticateHeaders, checkOrigin, type Principal } from "../auth";
import { isAppError } from "../../lib/errors";
import { readRecord } from "../../instances/store";
import { isClusterInstance } from "../cluster/terminal";
import { audit } from "./audit";
import { CLOSE, TerminalRefusal, attach, endAllSessions, endSession, findSession, startSession, type Who } from "./sessions";
import { hostShellPolicy, parseTerminalQuery, targetLabel, type TerminalRequest } from "./target";

/**
 * The terminal's WebSocket edge. Everything about the request (origin, credentials, the query and
 * that its instance exists) is checked before the upgrade and refused with a plain HTTP status, so
 * no socket is ever opened for a caller we would refuse. Only conditions that depend on live state
 * once a caller is accepted (limits, an expired session, a stopped container) use close codes.
 * Protocol: docs/terminal.md.
 */

/** Largest frame a client may send (a big paste); the ws library refuses bigger ones with 1009. */
const MAX_PAYLOAD = 1024 * 1024;
const PING_MS = 30_000;

const KEY = Symbol.for("moodle-dind.terminal.wss");
function server(): WebSocketServer {
  const g = globalThis as unknown as Record<symbol, WebSocketServer | undefined>;
  if (!g[KEY]) {
    g[KEY] = new WebSocketServer({ noServer: true, maxPayload: MAX_PAYLOAD, perMessageDeflate: false });
    // The engine keeps exec'd shells running when we go away: end them on the way out.
    for (const sig of ["SIGTERM", "SIGINT"] as const) process.once(sig, () => void endAllSessions());
  }
  return g[KEY];
}

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

function refuse(socket: Duplex, status: number, reason: string) {
  if (socket.destroyed) return;
  // The reason is ours, but strip anything that could break the status line or headers anyway.
  const body = reason.replace(/[^\x20-\x7e]/g, " ").slice(0, 300);
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nCache-Control: no-store\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
  );
  socket.destroy();
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function handleTerminalUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on("error", () => socket.destroy());
  void accept(req, socket, head).catch(() => refuse(socket, 500, "terminal failed"));
}

async function accept(req: IncomingMessage, socket: Duplex, head: Buffer) {
  if (!checkOrigin(header(req, "origin"), header(req, "host"))) {
    return refuse(socket, 403, "cross-origin terminal requests are refused");
  }
  const principal: Principal | null = await authenticateHeaders({
    cookie: header(req, "cookie"),
    authorization: header(req, "authorization"),
  });
  if (!principal) return refuse(socket, 401, "authentication required");
  const who: Who = { user: principal.user, via: principal.via, address: header(req, "x-mdind-remote-addr") };

  let request: TerminalRequest;
  try {
    request = parseTerminalQuery(new URL(req.url ?? "/", "http://localhost").searchParams);
  } catch (e) {
    const message = isAppError(e) ? e.message : "invalid terminal request";
    void audit("terminal_refused", { user: who.user, address: who.address, status: 400, message });
    return refuse(socket, 400, message);
  }
  const { target } = request;
  if (target.kind === "host") {
    const policy = hostShellPolicy();
    if (!policy.enabled) {
      void audit("terminal_refused", { user: who.user, address: who.address, status: 403, target: "host", message: "host shell disabled" });
      return refuse(socket, 403, policy.reason);
    }
  } else {
    try {
      if (!(await isClusterInstance(target.instance))) await readRecord(target.instance);
    } catch {
      void audit("terminal_refused", { user: who.user, address: who.address, status: 404, target: targetLabel(target), message: "no such instance" });
      return refuse(socket, 404, `no instance named '${target.instance}'`);
    }
  }

  server().handleUpgrade(req, socket, head, (ws) => void open(ws, who, request));
}

async function open(ws: WebSocket, who: Who, request: TerminalRequest) {
  const { target, cols, rows } = request;
  let alive = true;
  ws.on("pong", () => (alive = true));
  const ping = setInterval(() => {
    // A client that vanished without a close frame is detached, which starts the grace period.
    if (!alive) return ws.terminate();
    alive = false;
    ws.ping();
  }, PING_MS);
  ws.on("close", () => clearInterval(ping));

  if (request.session) {
    const existing = findSession(request.session, who, target);
    if (!existing) return ws.close(CLOSE.notFound, "that terminal session has ended");
    return attach(existing, ws, { resumed: true, cols, rows });
  }
  try {
    const s = await startSession(who, target, cols, rows);
    if (ws.readyState !== ws.OPEN) {
      // The client left while the shell was starting: nobody will ever attach, so no grace period.
      return void endSession(s, "closed");
    }
    attach(s, ws, { resumed: false, cols, rows });
  } catch (e) {
    if (e instanceof TerminalRefusal) return ws.close(e.code, e.message.slice(0, 120));
    const message = isAppError(e) ? e.message : "could not start the shell";
    const code = isAppError(e) ? (e.kind === "conflict" ? CLOSE.conflict : e.kind === "not_found" ? CLOSE.notFound : CLOSE.engine) : CLOSE.engine;
    void audit("terminal_refused", { user: who.user, target: targetLabel(target), code, message });
    // Close reasons are limited to 123 bytes; the full message goes first as a control frame.
    if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ type: "error", message }));
    ws.close(code, message.slice(0, 120));
  }
}
