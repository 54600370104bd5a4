import fs from "node:fs";
import os from "node:os";
import { docker } from "../../lib/docker";
import { execAttach } from "../../lib/exec";
import { AppError, engineError } from "../../lib/errors";
import { settings } from "../../lib/config";
import { containerName, type Service } from "../../instances/stack";
import { serviceShellDefaults } from "../../instances/access";
import { readRecord, readSecrets } from "../../instances/store";
import { MARKER_ENV, newMarker, reapContainer, reapHost } from "./reaper";
import type { TerminalTarget } from "./target";

/**
 * A running shell behind a terminal, whatever it runs in. `end()` kills it and everything it
 * started (see reaper.ts); `onExit` fires once, after the shell is gone.
 */
export interface Shell {
  write(data: Buffer | string): void;
  resize(cols: number, rows: number): void;
  onData(cb: (chunk: Buffer) => void): void;
  onExit(cb: (code: number | null) => void): void;
  /** Pause/resume output, for backpressure towards a slow client. */
  pause(): void;
  resume(): void;
  end(): Promise<{ ok: boolean; detail: string }>;
}

/**
 * Fixed scripts, never built from input. The container's login shell: bash where the image has it
 * (-l so /etc/profile sets PATH and the prompt), else sh.
 */
const LOGIN_SHELL = "if command -v bash >/dev/null 2>&1; then exec bash -l; else exec sh -l; fi";
const AFTER_CLIENT = `echo; echo "(the database client exited; this is a shell in the db container, 'exit' closes it)"; ${LOGIN_SHELL}`;
/** psql reads host, user, database and password from PG* variables set on the exec, not argv. */
const PSQL = `psql; ${AFTER_CLIENT}`;
/** The password comes from MYSQL_PWD on the exec; the fixed arguments name the Moodle user and database. */
const MARIADB = `if command -v mariadb >/dev/null 2>&1; then mariadb -h 127.0.0.1 -u moodle moodle; else mysql -h 127.0.0.1 -u moodle moodle; fi; ${AFTER_CLIENT}`;

const BASE_ENV = ["TERM=xterm-256color", "COLORTERM=truecolor", "LANG=C.UTF-8"];

interface ExecPlan {
  cmd: string[];
  user?: string;
  workdir?: string;
  env: string[];
}

async function containerPlan(instance: string, service: Service, marker: string): Promise<ExecPlan> {
  const rec = await readRecord(instance);
  const defaults = serviceShellDefaults(service);
  const env = [...BASE_ENV, `${MARKER_ENV}=${marker}`];
  if (service !== "db") return { cmd: ["sh", "-c", LOGIN_SHELL], ...defaults, env };
  const secrets = await readSecrets(instance);
  if (rec.spec.db.engine === "postgres") {
    return {
      cmd: ["sh", "-c", PSQL],
      env: [...env, "PGHOST=127.0.0.1", "PGUSER=moodle", "PGDATABASE=moodle", `PGPASSWORD=${secrets.dbPassword}`],
    };
  }
  return { cmd: ["sh", "-c", MARIADB], env: [...env, `MYSQL_PWD=${secrets.dbPassword}`] };
}

export async function openContainerShell(instance: string, service: Service, cols: number, rows: number): Promise<Shell> {
  const name = containerName(instance, service);
  const c = docker().getContainer(name);
  let running = false;
  try {
    running = (await c.inspect()).State?.Running === true;
  } catch (e) {
    throw engineError(`container ${name}`, e);
  }
  if (!running) throw new AppError("conflict", `${name} is not running; start the instance first`);
  const marker = newMarker();
  const plan = await containerPlan(instance, service, marker);
  const ex = await execAttach(name, plan.cmd, { tty: true, user: plan.user, workdir: plan.workdir, env: plan.env });
  const stream = ex.stream;
  // Engine API 1.41 has no initial console size on exec start: size it right away.
  ex.resize(cols, rows).catch(() => undefined);

  const exitCbs: ((code: number | null) => void)[] = [];
  let exited = false;
  let reported = false;
  let exitCode: number | null = null;
  const finish = async () => {
    if (exited) return;
    exited = true;
    exitCode = await ex.exitCode();
    reported = true;
    for (const cb of exitCbs) cb(exitCode);
  };
  stream.on("end", () => void finish());
  stream.on("close", () => void finish());
  stream.on("error", () => void finish());

  let ended: Promise<{ ok: boolean; detail: string }> | null = null;
  return {
    write: (d) => {
      if (!stream.destroyed) stream.write(d);
    },
    resize: (w, h) => {
      ex.resize(w, h).catch(() => undefined);
    },
    onData: (cb) => stream.on("data", (d: Buffer) => cb(d)),
    onExit: (cb) => {
      if (reported) cb(exitCode);
      else exitCbs.push(cb);
    },
    pause: () => stream.pause(),
    resume: () => stream.resume(),
    end: () => {
      ended ??= (async () => {
        // Kill inside the container first, then drop our end of the stream.
        const r = await reapContainer(name, marker, plan.user).catch((e: unknown) => ({
          ok: false,
          detail: e instanceof Error ? e.message : String(e),
        }));
        stream.destroy();
        return r;
      })();
      return ended;
    },
  };
}

/**
 * Environment for the host shell: only what a shell needs, so the dashboard's own secrets
 * (MDIND_ADMIN_PASSWORD and friends) never reach it.
 */
function hostEnv(marker: string): Record<string, string> {
  const keep = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "DOCKER_HOST", "TZ"];
  const env: Record<string, string> = {};
  for (const k of keep) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env.TERM = "xterm-256color";
  env.COLORTERM = "truecolor";
  env.LANG = process.env.LANG ?? "C.UTF-8";
  env.MDIND_HOME = settings().home;
  env[MARKER_ENV] = marker;
  return env;
}

export async function openHostShell(cols: number, rows: number): Promise<Shell> {
  const pty = await import("node-pty");
  const marker = newMarker();
  const bash = ["/bin/bash", "/usr/bin/bash"].find((p) => fs.existsSync(p));
  const file = bash ?? "/bin/sh";
  const proc = pty.spawn(file, ["-l"], {
    name: "xterm-256color",
    cols,
    rows,
    cwd: process.env.HOME && fs.existsSync(process.env.HOME) ? process.env.HOME : os.homedir(),
    env: hostEnv(marker),
  });
  // node-pty starts the shell with setsid(): its pid is the session id of everything it starts.
  const sid = proc.pid;
  const exitCbs: ((code: number | null) => void)[] = [];
  proc.onExit(({ exitCode, signal }) => {
    for (const cb of exitCbs) cb(signal ? 128 + signal : exitCode);
  });
  let ended: Promise<{ ok: boolean; detail: string }> | null = null;
  return {
    // Bytes as they came: a large paste arrives in several frames that may split a UTF-8 character.
    write: (d) => proc.write(d),
    resize: (w, h) => {
      try {
        proc.resize(w, h);
      } catch {
        // the pty is already gone
      }
    },
    onData: (cb) => {
      proc.onData((s) => cb(Buffer.from(s, "utf8")));
    },
    onExit: (cb) => exitCbs.push(cb),
    pause: () => proc.pause(),
    resume: () => proc.resume(),
    end: () => {
      ended ??= reapHost(marker, sid);
      return ended;
    },
  };
}

export function openShell(target: TerminalTarget, cols: number, rows: number): Promise<Shell> {
  return target.kind === "host" ? openHostShell(cols, rows) : openContainerShell(target.instance, target.service, cols, rows);
}
