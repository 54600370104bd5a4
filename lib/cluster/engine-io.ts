import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import tar from "tar-stream";
import type Docker from "dockerode";
import { CommandError, EngineError, engineError } from "../errors";
import type { Engine } from "./swarm";

/**
 * Commands and files on a node through its engine API only (what a control plane has for a real
 * remote machine): exec in a task's container, and folders read or written by a short-lived helper
 * container that bind-mounts them (never started for reads; the archive API works on it stopped).
 */
export async function execOn(
  engine: Engine,
  container: string,
  cmd: string[],
  opts: { user?: string; stdin?: string | Buffer; what?: string; check?: boolean } = {},
): Promise<{ exitCode: number; stdout: Buffer; stderr: string }> {
  const c = engine.getContainer(container);
  const exec = await c
    .exec({ Cmd: cmd, User: opts.user, AttachStdout: true, AttachStderr: true, AttachStdin: opts.stdin !== undefined, Tty: false })
    .catch((e: unknown) => {
      throw engineError(`exec in ${container}`, e);
    });
  const stream = await exec.start({ hijack: true, stdin: opts.stdin !== undefined });
  const out = new PassThrough();
  const err = new PassThrough();
  const chunks: Buffer[] = [];
  let stderr = "";
  out.on("data", (d: Buffer) => chunks.push(d));
  err.on("data", (d: Buffer) => (stderr += d.toString()));
  engine.modem.demuxStream(stream, out, err);
  if (opts.stdin !== undefined) stream.end(opts.stdin);
  await new Promise<void>((resolve, reject) => {
    stream.on("end", resolve);
    stream.on("error", reject);
  });
  const info = await exec.inspect();
  const exitCode = info.ExitCode ?? -1;
  if (exitCode !== 0 && opts.check !== false) throw new CommandError(opts.what ? [opts.what] : cmd, exitCode, "", stderr, opts.what);
  return { exitCode, stdout: Buffer.concat(chunks), stderr };
}

/** The running container of a swarm service's task on this node, or null. */
export async function taskContainer(engine: Engine, service: string): Promise<string | null> {
  const list = await engine.listContainers({ filters: { label: [`com.docker.swarm.service.name=${service}`], status: ["running"] } });
  return list[0]?.Id ?? null;
}

const HELPER_LABEL = "org.moodle-dind.cluster-helper";
/** How long a started helper's run may take (ms), counted from its creation on the engine's clock. */
const HELPER_TTL_LABEL = "org.moodle-dind.cluster-helper.ttl";
/** Past the deadline, the TERM and the engine's 10 s kill still take a moment. */
const SWEEP_GRACE_MS = 60_000;

/**
 * Remove the helpers a control plane that died mid-run left on a node (a helper's command line
 * carries the node CLI's settings, the mail password among them, so none should outlive its
 * run). Only those past their own deadline: another control plane's (the CLI's beside the
 * dashboard's) may be running now. Creation time and now both come from the node's engine, so
 * no two machines' clocks are compared. Returns how many went.
 */
export async function sweepHelpers(engine: Engine): Promise<number> {
  const list = await engine.listContainers({ all: true, filters: { label: [HELPER_TTL_LABEL] } });
  if (list.length === 0) return 0;
  const now = Date.parse(((await engine.info()) as { SystemTime?: string }).SystemTime ?? "");
  if (!Number.isFinite(now)) return 0;
  let removed = 0;
  for (const c of list) {
    const ttl = Number(c.Labels?.[HELPER_TTL_LABEL]);
    if (!Number.isFinite(ttl) || !Number.isFinite(c.Created) || c.Created * 1000 + ttl + SWEEP_GRACE_MS > now) continue;
    await engine.getContainer(c.Id).remove({ force: true }).then(() => removed++, () => undefined);
  }
  return removed;
}

/** A created (not started) container that bind-mounts `hostDir` at /mnt; removed by the caller. */
async function helper(engine: Engine, image: string, hostDir: string, cmd: string[] = ["true"]): Promise<Docker.Container> {
  try {
    return await engine.createContainer({
      Image: image,
      Entrypoint: [cmd[0]],
      Cmd: cmd.slice(1),
      Labels: { [HELPER_LABEL]: "true" },
      HostConfig: { Binds: [`${hostDir}:/mnt`], NetworkMode: "none" },
    });
  } catch (e) {
    throw engineError("creating a helper container", e);
  }
}

/** A tar stream of `hostDir/entry` on a node (entries start with `entry/`). Call done() after reading. */
export async function readFolder(engine: Engine, image: string, hostDir: string, entry: string): Promise<{ stream: Readable; done: () => Promise<void> }> {
  const c = await helper(engine, image, hostDir);
  try {
    const stream = (await c.getArchive({ path: `/mnt/${entry}` })) as unknown as Readable;
    return { stream, done: () => c.remove({ force: true }).then(() => undefined, () => undefined) };
  } catch (e) {
    await c.remove({ force: true }).catch(() => undefined);
    throw engineError(`reading ${hostDir}/${entry}`, e);
  }
}

/** The JSON file `hostDir/entry` on a node, parsed. */
export async function readJsonOn<T>(engine: Engine, image: string, hostDir: string, entry: string): Promise<T> {
  const { stream, done } = await readFolder(engine, image, hostDir, entry);
  try {
    const extract = tar.extract();
    const parts: Buffer[] = [];
    extract.on("entry", (_h, body, next) => {
      body.on("data", (d: unknown) => {
        parts.push(Buffer.from(d as Uint8Array));
      });
      body.on("end", next);
    });
    await pipeline(stream, extract);
    return JSON.parse(Buffer.concat(parts).toString("utf8")) as T;
  } finally {
    await done();
  }
}

/** Unpack a tar (or tar.gz) stream into `hostDir` on a node, keeping owners and modes. */
export async function writeFolder(engine: Engine, image: string, hostDir: string, tar: Readable): Promise<void> {
  await runOn(engine, image, "/", ["mkdir", "-p", `/mnt${hostDir}`]);
  const c = await helper(engine, image, hostDir);
  try {
    await c.putArchive(tar, { path: "/mnt", copyUIDGID: "1" } as never);
  } catch (e) {
    throw engineError(`writing into ${hostDir}`, e);
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

export interface Captured {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** Start a created helper, collect its output, wait (killing it at the deadline), remove it. */
async function runToEnd(engine: Engine, c: Docker.Container, timeoutMs: number, what: string): Promise<Captured> {
  const out = new PassThrough();
  const err = new PassThrough();
  let stdout = "";
  let stderr = "";
  out.on("data", (d: Buffer) => (stdout += d.toString()));
  err.on("data", (d: Buffer) => (stderr += d.toString()));
  let timer: NodeJS.Timeout | undefined;
  try {
    const stream = await c.attach({ stream: true, stdout: true, stderr: true });
    engine.modem.demuxStream(stream, out, err);
    const ended = new Promise<void>((resolve) => {
      stream.on("end", resolve);
      stream.on("error", () => resolve());
    });
    await c.start();
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        // TERM first, so the command's own rollback runs (the engine kills it after 10 s), and
        // only then the answer, since removing the helper would kill it at once.
        const late = new EngineError(`${what} did not finish in ${Math.round(timeoutMs / 1000)} s`);
        c.stop({ t: 10 }).then(() => reject(late), () => reject(late));
      }, timeoutMs);
    });
    const waited = c.wait() as Promise<{ StatusCode: number }>;
    // Once the deadline has won, a wait that fails later (the node's connection gone) is nobody's.
    waited.catch(() => undefined);
    const r = await Promise.race([waited, expired]);
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([ended, new Promise((res) => (grace = setTimeout(res, 2000)))]);
    clearTimeout(grace);
    return { exitCode: r.StatusCode, stdout, stderr };
  } finally {
    clearTimeout(timer);
    await c.remove({ force: true }).catch(() => undefined);
  }
}

/**
 * The host container's own environment (as its entrypoint saved it), then argv in `cwd`. A
 * constant script: the caller's data only ever travels as arguments.
 */
const HOST_ENV_FILE = "/run/mdind/host.env";
const HOST_RUN = `[ -r ${HOST_ENV_FILE} ] || { echo "${HOST_ENV_FILE} is missing: this node's host image is older than the control plane's" >&2; exit 125; }
mapfile -d "" base < ${HOST_ENV_FILE}; cd -- "$0" && exec env -i "\${base[@]}" "$@"`;

/**
 * Run argv as if by `docker exec` in the node's host container, through the node's engine API
 * only (all a control plane has for a real remote machine): a helper with the host's root at
 * /host, sharing its network and pid namespaces, chrooted there. `env` (KEY=VALUE) is laid over
 * the host's environment.
 */
export async function runInHost(
  engine: Engine,
  image: string,
  argv: string[],
  opts: { cwd?: string; env?: string[]; what?: string; timeoutMs?: number; check?: boolean } = {},
): Promise<Captured> {
  const what = opts.what ?? argv.join(" ");
  for (const kv of opts.env ?? []) if (!/^[A-Z][A-Z0-9_]*=/.test(kv)) throw new EngineError(`not an environment setting: ${kv.split("=")[0]}`);
  const timeoutMs = opts.timeoutMs ?? 600_000;
  // Best effort: a sweep that fails (the engine busy) must not fail the command.
  await sweepHelpers(engine).catch(() => 0);
  let c: Docker.Container;
  try {
    c = await engine.createContainer({
      Image: image,
      Entrypoint: ["chroot"],
      Cmd: ["/host", "/bin/bash", "-c", HOST_RUN, opts.cwd ?? "/", ...(opts.env ?? []), ...argv],
      Labels: { [HELPER_LABEL]: "true", [HELPER_TTL_LABEL]: String(timeoutMs) },
      HostConfig: { Binds: ["/:/host"], NetworkMode: "host", PidMode: "host" },
    });
  } catch (e) {
    throw engineError("creating a helper container", e);
  }
  const r = await runToEnd(engine, c, timeoutMs, what);
  if (r.exitCode !== 0 && opts.check !== false) {
    // The node CLI's own error line says why; its progress lines before it do not.
    const said = r.stderr.split("\n").filter((l) => l.startsWith("moodle-dind: ")).map((l) => l.slice(13));
    throw new CommandError([what], r.exitCode, r.stdout, said.length ? said.join("\n") : r.stderr, what);
  }
  return r;
}

/** Which of `paths` (absolute, inside `hostDir`) do not exist on the node. */
export async function missingOn(engine: Engine, image: string, hostDir: string, paths: string[]): Promise<string[]> {
  if (paths.length === 0) return [];
  const rel = paths.map((p) => `/mnt${p.slice(hostDir.length)}`);
  const c = await helper(engine, image, hostDir, ["sh", "-c", 'for f; do [ -e "$f" ] || printf "%s\\n" "$f"; done', "sh", ...rel]);
  const r = await runToEnd(engine, c, 60_000, "checking files on the node");
  if (r.exitCode !== 0) throw new EngineError(`checking files on the node exited ${r.exitCode}: ${r.stderr.trim().slice(-300)}`);
  const gone = new Set(r.stdout.split("\n").filter(Boolean));
  return paths.filter((_, i) => gone.has(rel[i]));
}

/** Run argv in a helper with `hostDir` at /mnt, to completion; a failure says what the command said. */
export async function runOn(engine: Engine, image: string, hostDir: string, cmd: string[]): Promise<void> {
  const c = await helper(engine, image, hostDir, cmd);
  const r = await runToEnd(engine, c, 30 * 60_000, `${cmd[0]} on the node`);
  if (r.exitCode !== 0) throw new EngineError(`${cmd.join(" ")} on the node exited ${r.exitCode}${r.stderr.trim() ? `: ${r.stderr.trim().slice(-300)}` : ""}`);
}
