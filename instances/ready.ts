import http from "node:http";
import { settings } from "../lib/config";
import { AppError } from "../lib/errors";
import { docker } from "../lib/docker";
import { execIn } from "../lib/exec";
import { readyCommand } from "./db";
import { containerName } from "./stack";
import type { InstanceSpec } from "./spec";

/**
 * Fast readiness probes used while an operation waits. The engine's own health checks are slow on
 * purpose (they run forever); these run only during create/start/restart and stop when ready.
 */
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A container that exits or restarts will never become ready: fail at once with its last log
 * lines instead of waiting out the timeout.
 */
async function assertAlive(container: string, what: string): Promise<void> {
  const info = await docker().getContainer(container).inspect().catch(() => null);
  if (!info) throw new AppError("engine", `${what}: container ${container} is gone`);
  const st = info.State;
  if (st.Running && !st.Restarting) return;
  const raw = await docker().getContainer(container).logs({ stdout: true, stderr: true, tail: 8 }).catch(() => Buffer.from(""));
  // Strip the 8-byte multiplexing headers; this is only for a readable error message.
  const text = raw.toString("utf8").replace(/[\u0000-\u0008]/g, "").split("\n").map((l) => l.trim()).filter(Boolean).slice(-5).join(" | ");
  throw new AppError("engine", `${what} is not running (exit code ${st.ExitCode}${st.Restarting ? ", restarting" : ""}): ${text || "no output"}`);
}

async function until(what: string, timeoutMs: number, probe: () => Promise<boolean>, container?: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let delay = 100;
  for (;;) {
    if (await probe().catch(() => false)) return;
    if (container) await assertAlive(container, what);
    if (Date.now() > deadline) throw new AppError("engine", `${what} did not become ready within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(delay);
    delay = Math.min(delay * 1.5, 1000);
  }
}

/**
 * GET http://127.0.0.1:port/path as if addressed to `hostHeader` (a site's wwwroot host: Moodle
 * redirects a request for any other), with its status and (the first MiB of its) body; only ever loopback.
 */
export function httpGetLoopback(port: number, pathname: string, hostHeader: string, signal: AbortSignal): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: pathname, signal, headers: { host: hostHeader } }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (d: string) => {
        if (body.length < 1 << 20) body += d;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

/** GET http://127.0.0.1:port/path and resolve the status code (only ever loopback). */
export function httpStatusOf(port: number, pathname: string, timeoutMs = 3000): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: "127.0.0.1", port, path: pathname, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", reject);
  });
}

export async function waitReady(
  name: string,
  spec: InstanceSpec,
  port: number,
  services: ("db" | "app" | "web")[],
  log: (l: string) => void,
  timeoutMs = settings().readyTimeoutMs,
): Promise<void> {
  for (const s of services) {
    const started = Date.now();
    if (s === "db") {
      const cmd = readyCommand(spec.db.engine);
      await until(`${spec.db.engine} ${spec.db.version}`, timeoutMs, async () => (await execIn(containerName(name, "db"), cmd, { check: false })).exitCode === 0, containerName(name, "db"));
    } else if (s === "app") {
      await until(`php-fpm ${spec.php}`, timeoutMs, async () =>
        (await execIn(containerName(name, "app"), ["php", "-r", "exit(@fsockopen('127.0.0.1', 9000) ? 0 : 1);"], { check: false })).exitCode === 0,
        containerName(name, "app"));
    } else {
      await until(`${spec.web.server} on port ${port}`, timeoutMs, async () => (await httpStatusOf(port, "/mdind-health")) === 200, containerName(name, "web"));
    }
    log(`${s} ready in ${Date.now() - started} ms`);
  }
}
