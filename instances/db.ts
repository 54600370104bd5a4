import fs from "node:fs";
import { pipeline } from "node:stream/promises";
import { PassThrough } from "node:stream";
import { docker } from "../lib/docker";
import { CommandError, engineError } from "../lib/errors";
import { execIn } from "../lib/exec";
import { containerName } from "./stack";
import type { DbEngine, InstanceSpec } from "./spec";

/**
 * Database chores inside an instance's db container, always through exec with argv and with
 * secrets on stdin: reset the app password, dump, restore, count rows.
 */
const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;

function client(spec: InstanceSpec): { cmd: string[]; user?: string } {
  return spec.db.engine === "postgres"
    ? { cmd: ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-U", "postgres", "-d", "moodle"], user: "postgres" }
    : { cmd: ["sh", "-c", "exec $(command -v mariadb || command -v mysql) -uroot moodle"] };
}

/** A restored template or clone keeps the source's DB password: give it this instance's. */
export async function setAppPassword(name: string, spec: InstanceSpec, password: string): Promise<void> {
  const sql =
    spec.db.engine === "postgres"
      ? `ALTER ROLE moodle WITH PASSWORD ${sqlString(password)};\n`
      : `ALTER USER 'moodle'@'%' IDENTIFIED BY ${sqlString(password)};\nFLUSH PRIVILEGES;\n`;
  const c = spec.db.engine === "postgres" ? { ...client(spec), cmd: ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-U", "postgres", "-d", "postgres"] } : client(spec);
  await execIn(containerName(name, "db"), c.cmd, { user: c.user, stdin: sql, what: "reset the database password" });
}

/** A logical dump of the moodle database on stdout, consistent while the site runs. */
export function dumpCommand(engine: DbEngine): { cmd: string[]; user?: string } {
  return engine === "postgres"
    ? { cmd: ["pg_dump", "-U", "postgres", "-Fc", "-Z", "1", "moodle"], user: "postgres" }
    : { cmd: ["sh", "-c", "exec $(command -v mariadb-dump || command -v mysqldump) -uroot --single-transaction --quick --routines moodle"] };
}

/** Exits 0 once the server takes connections over TCP (past the image's own init phase). */
export function readyCommand(engine: DbEngine): string[] {
  return engine === "postgres"
    ? ["pg_isready", "-q", "-h", "127.0.0.1", "-U", "moodle"]
    : ["sh", "-c", "mariadb-admin -h 127.0.0.1 ping >/dev/null 2>&1 || mysqladmin -h 127.0.0.1 ping >/dev/null 2>&1"];
}

/** The steps that replace the moodle database with a dump of dumpCommand's (the dump goes last, on stdin). */
export function restoreSteps(engine: DbEngine): { cmd: string[]; user?: string; stdin?: string; what: string }[] {
  const mariadb = ["sh", "-c", "exec $(command -v mariadb || command -v mysql) -uroot"];
  return engine === "postgres"
    ? [
        {
          cmd: ["psql", "-v", "ON_ERROR_STOP=1", "-q", "-U", "postgres", "-d", "postgres"],
          user: "postgres",
          stdin: "DROP DATABASE IF EXISTS moodle WITH (FORCE);\nCREATE DATABASE moodle OWNER moodle;\n",
          what: "recreate the database",
        },
        { cmd: ["pg_restore", "-U", "postgres", "-d", "moodle", "--no-owner", "--role=moodle"], user: "postgres", what: "pg_restore" },
      ]
    : [
        {
          cmd: mariadb,
          stdin: "DROP DATABASE IF EXISTS moodle;\nCREATE DATABASE moodle DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\nGRANT ALL ON moodle.* TO 'moodle'@'%';\n",
          what: "recreate the database",
        },
        { cmd: ["sh", "-c", "exec $(command -v mariadb || command -v mysql) -uroot moodle"], what: "mariadb restore" },
      ];
}

/** Stream a logical dump of the moodle database into `file` (consistent while the site runs). */
export async function dumpTo(name: string, spec: InstanceSpec, file: string): Promise<void> {
  const { cmd, user } = dumpCommand(spec.db.engine);
  const c = docker().getContainer(containerName(name, "db"));
  const exec = await c.exec({ Cmd: cmd, User: user, AttachStdout: true, AttachStderr: true }).catch((e) => {
    throw engineError("starting the dump", e);
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  const err = new PassThrough();
  let stderr = "";
  err.on("data", (d) => (stderr += d));
  docker().modem.demuxStream(stream, out, err);
  stream.on("end", () => {
    out.end();
    err.end();
  });
  await pipeline(out, fs.createWriteStream(file, { mode: 0o600 }));
  const info = await exec.inspect();
  if (info.ExitCode !== 0) throw new CommandError(cmd, info.ExitCode ?? null, "", stderr, "database dump");
}

/** Restore a dump made by dumpTo into an empty (or to-be-replaced) moodle database. */
export async function restoreFrom(name: string, spec: InstanceSpec, file: string): Promise<void> {
  const steps = restoreSteps(spec.db.engine);
  for (const [i, st] of steps.entries()) {
    await execIn(containerName(name, "db"), st.cmd, { user: st.user, stdin: i === steps.length - 1 ? fs.readFileSync(file) : st.stdin, what: st.what });
  }
}
