import { PassThrough, type Readable } from "node:stream";
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

/** Run argv in a helper with `hostDir` at /mnt, to completion. */
export async function runOn(engine: Engine, image: string, hostDir: string, cmd: string[]): Promise<void> {
  const c = await helper(engine, image, hostDir, cmd);
  try {
    await c.start();
    const r = (await c.wait()) as { StatusCode: number };
    if (r.StatusCode !== 0) throw new EngineError(`${cmd.join(" ")} on the node exited ${r.StatusCode}`);
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}
