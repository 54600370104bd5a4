import { PassThrough, type Duplex } from "node:stream";
import type Docker from "dockerode";
import { docker } from "./docker";
import { CommandError, engineError } from "./errors";

export interface ExecResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

export interface ExecOptions {
  user?: string;
  workdir?: string;
  env?: string[];
  /** Written to the process's stdin, then closed (how secrets and JSON reach scripts, never argv). */
  stdin?: string | Buffer;
  /** Throw CommandError on a non-zero exit (default true). */
  check?: boolean;
  /** Shown in errors instead of argv (which may hold a secret). */
  what?: string;
  onOutput?: (chunk: string, stream: "stdout" | "stderr") => void;
  timeoutMs?: number;
}

/** Run argv inside a container through the engine's exec API. No shell, no string building. */
export async function execIn(container: string, cmd: string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const c = docker().getContainer(container);
  let exec;
  try {
    exec = await c.exec({
      Cmd: cmd,
      User: opts.user,
      WorkingDir: opts.workdir,
      Env: opts.env,
      AttachStdout: true,
      AttachStderr: true,
      AttachStdin: opts.stdin !== undefined,
      Tty: false,
    });
  } catch (e) {
    throw engineError(`exec in ${container}`, e);
  }
  const stream = await exec.start({ hijack: true, stdin: opts.stdin !== undefined });
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d: Buffer) => {
    stdout += d.toString();
    opts.onOutput?.(d.toString(), "stdout");
  });
  err.on("data", (d: Buffer) => {
    stderr += d.toString();
    opts.onOutput?.(d.toString(), "stderr");
  });
  docker().modem.demuxStream(stream, out, err);
  if (opts.stdin !== undefined) stream.end(opts.stdin);
  await new Promise<void>((resolve, reject) => {
    const timer = opts.timeoutMs ? setTimeout(() => reject(new CommandError(cmd, null, stdout, `${stderr}\ntimed out`, opts.what)), opts.timeoutMs) : null;
    stream.on("end", () => {
      if (timer) clearTimeout(timer);
      resolve();
    });
    stream.on("error", (e) => {
      if (timer) clearTimeout(timer);
      reject(engineError(`exec in ${container}`, e));
    });
  });
  const info = await exec.inspect();
  const exitCode = info.ExitCode ?? -1;
  if (exitCode !== 0 && opts.check !== false) throw new CommandError(opts.what ? [opts.what] : cmd, exitCode, stdout, stderr, opts.what);
  return { exitCode, stdout, stderr };
}

export interface AttachedExec {
  /** The hijacked connection: raw terminal bytes with a TTY, multiplexed stdout/stderr without. */
  stream: Duplex;
  tty: boolean;
  resize(cols: number, rows: number): Promise<void>;
  /** Exit code once the process has ended (the stream ends a moment before the engine records it). */
  exitCode(): Promise<number | null>;
  /** Split a non-TTY stream into stdout and stderr. */
  demux(stdout: NodeJS.WritableStream, stderr: NodeJS.WritableStream): void;
}

/**
 * An interactive exec: stdin attached, optionally with a TTY. The CLI's `exec` and the web
 * terminal both open processes this way; argv goes to the engine as is, never through a shell string.
 */
export async function execAttach(
  container: string,
  cmd: string[],
  opts: { tty: boolean; user?: string; workdir?: string; env?: string[]; engine?: Docker },
): Promise<AttachedExec> {
  // Another node's engine (mutual TLS) for an instance of a cluster; this host's otherwise.
  const engine = opts.engine ?? docker();
  let exec: Docker.Exec;
  let stream: Duplex;
  try {
    exec = await engine.getContainer(container).exec({
      Cmd: cmd,
      User: opts.user,
      WorkingDir: opts.workdir,
      Env: opts.env,
      AttachStdin: true,
      AttachStdout: true,
      AttachStderr: true,
      Tty: opts.tty,
    });
    stream = (await exec.start({ hijack: true, stdin: true, Tty: opts.tty })) as Duplex;
  } catch (e) {
    throw engineError(`exec in ${container}`, e);
  }
  const ex = exec;
  return {
    stream,
    tty: opts.tty,
    resize: (cols, rows) => ex.resize({ w: cols, h: rows }).then(() => undefined),
    demux: (stdout, stderr) => engine.modem.demuxStream(stream, stdout, stderr),
    exitCode: async () => {
      for (let i = 0; i < 20; i++) {
        try {
          const info = await ex.inspect();
          if (!info.Running) return info.ExitCode ?? null;
        } catch {
          return null;
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      return null;
    },
  };
}
