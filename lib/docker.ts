import Docker from "dockerode";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { settings } from "./config";
import { EngineError, engineError } from "./errors";

/** Label keys put on every container, network and volume we create. */
export const LABEL = {
  managed: "org.moodle-dind.managed",
  instance: "org.moodle-dind.instance",
  service: "org.moodle-dind.service",
  n: "org.moodle-dind.n",
  recipe: "org.moodle-dind.recipe",
  kind: "org.moodle-dind.kind",
  version: "org.moodle-dind.version",
  /** Which data dir (MDIND_HOME) owns a resource: two homes may share one engine (tests, dev). */
  home: "org.moodle-dind.home",
  /** The data dir's path: a resource whose folder is gone was left by a removed data dir. */
  homePath: "org.moodle-dind.home-path",
} as const;

let client: Docker | null = null;

/** One dockerode client per process; DOCKER_HOST / socket discovery is dockerode's own. */
export function docker(): Docker {
  if (!client) client = new Docker();
  return client;
}

export async function ping(): Promise<void> {
  try {
    await docker().ping();
  } catch (e) {
    throw new EngineError(
      "The Docker engine does not answer. Run `bash scripts/engine.sh` (installs and starts one when root on Debian/Ubuntu).",
      e,
    );
  }
}

/** Drain a dockerode progress stream (build, pull, import, load) and surface its error lines. */
export function followProgress(
  stream: NodeJS.ReadableStream,
  onEvent?: (ev: { stream?: string; status?: string; progress?: string; error?: string; id?: string; aux?: unknown }) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | null = null;
    docker().modem.followProgress(
      stream,
      (err: Error | null) => {
        if (err) reject(new EngineError(err.message, err));
        else if (failure) reject(new EngineError(failure));
        else resolve();
      },
      (ev: { error?: string; errorDetail?: { message?: string } }) => {
        if (ev.error) failure = ev.errorDetail?.message ?? ev.error;
        onEvent?.(ev as never);
      },
    );
  });
}

/** Short stable id of this process's data dir, put on every container and network it makes. */
export function homeId(): string {
  return homeIdOf(settings().home);
}

/** The home label of the data dir at `dir` (a resolved path). */
export const homeIdOf = (dir: string) => createHash("sha256").update(dir).digest("hex").slice(0, 12);

/**
 * The engine adapter for what we manage: every list, filter and label of our containers and
 * networks goes through here. "Ours" is managed=true plus this data dir's home label, so two data
 * dirs sharing one engine (tests, dev) never see each other's containers.
 */
export function managedFilter(opts: { instance?: string } = {}): string[] {
  return [opts.instance ? `${LABEL.instance}=${opts.instance}` : `${LABEL.managed}=true`, `${LABEL.home}=${homeId()}`];
}

/** Labels for a resource we create (merged with the caller's own). */
export function managedLabels(extra: Record<string, string> = {}): Record<string, string> {
  return { [LABEL.managed]: "true", [LABEL.home]: homeId(), [LABEL.homePath]: settings().home, ...extra };
}

/**
 * A resource another data dir made whose folder no longer exists: a test run or bench removed its
 * temporary data dir without removing everything (a crash, a second Ctrl+C, a killed CI job).
 * Nobody can ever manage it again, so it may be reclaimed.
 */
export function abandonedHome(labels: Record<string, string> | undefined): boolean {
  const where = labels?.[LABEL.homePath];
  const home = labels?.[LABEL.home];
  if (labels?.[LABEL.managed] !== "true" || !home || home === homeId() || !where || !path.isAbsolute(where)) return false;
  // The two labels must agree (homeId is the path's hash), and only a definite "no such folder"
  // counts: a folder this process may not read (another user's home, another mount view) is alive.
  if (homeIdOf(where) !== home) return false;
  try {
    fs.statSync(where);
    return false;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT";
  }
}

/** Containers with exactly these names, whoever made them (the engine's name filter matches parts). */
export async function containersNamed(names: string[]): Promise<Docker.ContainerInfo[]> {
  try {
    const all = await docker().listContainers({ all: true, filters: { name: names } });
    const wanted = new Set(names.map((n) => `/${n}`));
    return all.filter((c) => c.Names.some((n) => wanted.has(n)));
  } catch (e) {
    throw engineError("listing containers", e);
  }
}

/** Set on every container the swarm runs for a service. */
export const SWARM_TASK_LABEL = "com.docker.swarm.task.id";

/**
 * This host's own instances' containers. A cluster instance's swarm tasks keep the same labels but
 * are the cluster's (services/cluster): never listed here, so no single-host view, status push or
 * reconcile ever counts, shows or removes them.
 */
export async function listManagedContainers(opts: { instance?: string; running?: boolean } = {}): Promise<Docker.ContainerInfo[]> {
  try {
    const list = await docker().listContainers({
      all: !opts.running,
      filters: { label: managedFilter(opts), ...(opts.running ? { status: ["running"] } : {}) },
    });
    return list.filter((c) => !c.Labels?.[SWARM_TASK_LABEL]);
  } catch (e) {
    throw engineError("listing containers", e);
  }
}

export async function listManagedNetworks(): Promise<Docker.NetworkInspectInfo[]> {
  try {
    return await docker().listNetworks({ filters: { label: managedFilter() } });
  } catch (e) {
    throw engineError("listing networks", e);
  }
}

/** Docker events for our containers (the live status feed). */
export async function managedEvents(): Promise<NodeJS.ReadableStream> {
  return (await docker().getEvents({ filters: { label: managedFilter(), type: ["container"] } })) as NodeJS.ReadableStream;
}

const statusOf = (e: unknown) => (e as { statusCode?: number }).statusCode;

export async function createManagedContainer(opts: Docker.ContainerCreateOptions): Promise<void> {
  try {
    await docker().createContainer(opts);
  } catch (e) {
    throw engineError(`creating ${opts.name}`, e);
  }
}

export async function startContainer(name: string): Promise<void> {
  try {
    await docker().getContainer(name).start();
  } catch (e) {
    if (statusOf(e) !== 304) throw e; // 304: already running
  }
}

export async function stopContainer(name: string, timeoutSeconds = 20): Promise<void> {
  try {
    await docker().getContainer(name).stop({ t: timeoutSeconds });
  } catch (e) {
    if (statusOf(e) !== 304 && statusOf(e) !== 404) throw engineError(`stopping ${name}`, e); // already stopped, or gone
  }
}

/**
 * Remove a container and its anonymous volumes; one already gone is not an error, and neither is
 * one whose removal someone else started (409 "already in progress", e.g. a user's `docker rm` during
 * a rollback): then we wait until it is gone, so the caller can reuse its name.
 */
export async function destroyContainer(idOrName: string): Promise<void> {
  try {
    await docker().getContainer(idOrName).remove({ force: true, v: true });
  } catch (e) {
    if (statusOf(e) === 404) return;
    if (statusOf(e) === 409 && /already in progress/i.test(String((e as Error).message))) {
      await waitGone(idOrName, 60_000, e);
      return;
    }
    throw engineError(`removing ${idOrName}`, e);
  }
}

async function waitGone(idOrName: string, limitMs: number, cause: unknown): Promise<void> {
  const until = Date.now() + limitMs;
  while (Date.now() < until) {
    try {
      await docker().getContainer(idOrName).inspect();
    } catch (e) {
      if (statusOf(e) === 404) return;
      throw engineError(`removing ${idOrName}`, e);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw engineError(`removing ${idOrName}`, cause);
}
