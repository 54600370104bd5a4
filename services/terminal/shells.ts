import { docker } from "../../lib/docker";
import { execAttach } from "../../lib/exec";
import { AppError, engineError } from "../../lib/errors";
import { containerName, type Service } from "../../instances/stack";
import { serviceShellDefaults } from "../../instances/access";
import { readRecord, readSecrets } from "../../instances/store";
import { openHostShell } from "./host-shell";
import { launcherArgv } from "./launcher";
import { clusterShellTarget } from "../cluster/terminal";
import type { Engine } from "../../lib/cluster/swarm";
import { ownerToken } from "./owner";
import { MARKER_ENV, newMarker, reapContainer } from "./reaper";
import type { TerminalTarget } from "./target";

/**
 * A running shell behind a terminal, whatever it runs in. `end()` kills it and everything it
 * started (see reaper.ts); `onExit` fires once, after the shell is gone.
 */
export interface Shell {
  /** What holds the session together: "launcher" in a container, cgroup/pidns/marker on the host. */
  containment: string;
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

export interface ExecPlan {
  /** The shell's own argv; it runs under the launcher (launcher.ts). */
  cmd: string[];
  user?: string;
  workdir?: string;
  env: string[];
}

/** The service's login shell, as its shell user in its work folder. */
const loginPlan = (service: Service): ExecPlan => ({ cmd: ["sh", "-c", LOGIN_SHELL], ...serviceShellDefaults(service), env: [...BASE_ENV] });

/**
 * The db tab of a cluster instance (PostgreSQL only in a cluster): psql as Moodle's role over the
 * container's own socket, which the image trusts, so no password travels to the other node.
 */
const clusterDbPlan = (): ExecPlan => ({ cmd: ["sh", "-c", PSQL], user: "postgres", env: [...BASE_ENV, "PGUSER=moodle", "PGDATABASE=moodle"] });

async function containerPlan(instance: string, service: Service): Promise<ExecPlan> {
  if (service !== "db") return loginPlan(service);
  const rec = await readRecord(instance);
  const secrets = await readSecrets(instance);
  const env = [...BASE_ENV];
  if (rec.spec.db.engine === "postgres") {
    return {
      cmd: ["sh", "-c", PSQL],
      env: [...env, "PGHOST=127.0.0.1", "PGUSER=moodle", "PGDATABASE=moodle", `PGPASSWORD=${secrets.dbPassword}`],
    };
  }
  return { cmd: ["sh", "-c", MARIADB], env: [...env, `MYSQL_PWD=${secrets.dbPassword}`] };
}

export async function openContainerShell(instance: string, service: Service, cols: number, rows: number): Promise<Shell> {
  const remote = await clusterShellTarget(instance, service);
  if (remote) {
    // An instance of a cluster started here: its task container, through its node's engine.
    return openExecShell(remote.container, service === "db" ? clusterDbPlan() : loginPlan(service), cols, rows, remote.engine);
  }
  const name = containerName(instance, service);
  const c = docker().getContainer(name);
  let running = false;
  try {
    running = (await c.inspect()).State?.Running === true;
  } catch (e) {
    throw engineError(`container ${name}`, e);
  }
  if (!running) throw new AppError("conflict", `${name} is not running; start the instance first`);
  return openExecShell(name, await containerPlan(instance, service), cols, rows);
}

/**
 * An interactive exec of `plan` in a running container, under the launcher, with a fresh marker
 * in its environment; `end()` runs the reaper.
 */
export async function openExecShell(name: string, plan: ExecPlan, cols: number, rows: number, engine?: Engine): Promise<Shell> {
  const marker = newMarker();
  const ex = await execAttach(name, launcherArgv(marker, ownerToken(), plan.cmd), {
    engine,
    tty: true,
    user: plan.user,
    workdir: plan.workdir,
    env: [...plan.env, `${MARKER_ENV}=${marker}`],
  });
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
    containment: "launcher",
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
        const r = await reapContainer(name, marker, plan.user, engine).catch((e: unknown) => ({
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

export function openShell(target: TerminalTarget, cols: number, rows: number): Promise<Shell> {
  return target.kind === "host" ? openHostShell(cols, rows) : openContainerShell(target.instance, target.service, cols, rows);
}
