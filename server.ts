import http from "node:http";
import path from "node:path";
import type { Duplex } from "node:stream";
import { fileURLToPath } from "node:url";
import next from "next";
import { ensureAdmin, REMOTE_ADDR_HEADER } from "./services/auth";
import { startBackground } from "./services/background";

/**
 * The dashboard's own HTTP server: Next (pages + /api/v1) plus the WebSocket upgrades Next cannot
 * route (the web terminal). One process, so the docker-events watcher and the operation channel
 * are shared by every request.
 */
const dev = process.env.NODE_ENV !== "production";
const port = Number.parseInt(process.env.MDIND_DASHBOARD_PORT ?? "7800", 10);
const host = process.env.MDIND_DASHBOARD_HOST ?? "127.0.0.1";
const TERMINAL_MODULE = "./services/terminal/ws";
const dir = path.dirname(fileURLToPath(import.meta.url));

function log(event: string, fields: Record<string, unknown> = {}) {
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), event, ...fields })}\n`);
}

async function main() {
  const app = next({ dev, dir, hostname: host, port });
  const handle = app.getRequestHandler();
  // The admin password exists before the first request can ask for it.
  const admin = await ensureAdmin();
  if (admin.generatedPassword) {
    log("admin_password_generated", {
      user: "admin",
      password: admin.generatedPassword,
      note: "shown once; change it under Settings. Set MDIND_ADMIN_PASSWORD to choose your own.",
    });
  }
  await app.prepare();
  const nextUpgrade = app.getUpgradeHandler();

  const server = http.createServer((req, res) => {
    // The client address for rate limits comes from the socket only, never from the client.
    delete req.headers[REMOTE_ADDR_HEADER];
    req.headers[REMOTE_ADDR_HEADER] = req.socket.remoteAddress ?? "unknown";
    res.setHeader("X-Content-Type-Options", "nosniff");
    res.setHeader("Referrer-Policy", "same-origin");
    res.setHeader("X-Frame-Options", "SAMEORIGIN");
    handle(req, res).catch((e: unknown) => {
      log("request_error", { url: req.url, error: e instanceof Error ? e.message : String(e) });
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  });

  server.on("upgrade", (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    delete req.headers[REMOTE_ADDR_HEADER];
    req.headers[REMOTE_ADDR_HEADER] = req.socket.remoteAddress ?? "unknown";
    const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    if (pathname === "/api/v1/terminal") {
      // Loaded by name at first use: the terminal module is optional (another issue builds it).
      import(TERMINAL_MODULE)
        .then((m: { handleTerminalUpgrade: (r: http.IncomingMessage, s: Duplex, h: Buffer) => unknown }) =>
          m.handleTerminalUpgrade(req, socket, head),
        )
        .catch((e: unknown) => {
          log("terminal_unavailable", { error: e instanceof Error ? e.message : String(e) });
          socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
          socket.destroy();
        });
      return;
    }
    Promise.resolve(nextUpgrade(req, socket, head)).catch(() => socket.destroy());
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host.includes(":") ? `[${host}]` : host;
  log("listening", { url: `http://${shown}:${port}/`, mode: dev ? "development" : "production" });

  await startBackground(log);

  const stop = () => {
    log("shutdown");
    server.close();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
}

main().catch((e: unknown) => {
  log("fatal", { error: e instanceof Error ? e.stack ?? e.message : String(e) });
  process.exit(1);
});
