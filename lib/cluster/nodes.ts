import { createReadStream } from "node:fs";
import path from "node:path";
import type Docker from "dockerode";
import { docker, LABEL } from "../docker";
import { AppError, EngineError, engineError } from "../errors";
import { containerSpec, defaultHostOptions, outerMtu, type Mode } from "../host/container";
import { HOST_IMAGE } from "../host/image";
import { tlsEngine, type Engine } from "./swarm";
import type { ClientTls } from "./tls";

/**
 * DinD host containers that play the machines of a cluster on one computer (`cluster up`). Each
 * runs only the inner dockerd (no dashboard: the control plane drives them over mutual TLS), on a
 * private bridge network this code creates, with its own volumes for /var/lib/docker and the data
 * dir. The manager also publishes the instance port range on 127.0.0.1, where users reach every
 * instance whichever node runs it.
 */
export const CLUSTER_LABEL = "org.moodle-dind.cluster";

export interface LocalNodeSpec {
  cluster: string;
  name: string;
  index: number;
  ip: string;
  network: string;
  tlsDir: string;
  /** Instance ports published on the manager only. */
  ports: { min: number; max: number } | null;
}

export interface LocalNode {
  name: string;
  index: number;
  ip: string;
  apiPort: number;
  mode: Mode;
}

const statusOf = (e: unknown) => (e as { statusCode?: number }).statusCode;
const msgOf = (e: unknown) => ((e as { json?: { message?: string } }).json?.message ?? (e as Error).message ?? String(e)).trim();

const NAME_RE = /^[a-z][a-z0-9-]{0,30}$/;
export function validateClusterName(name: string): string {
  if (!NAME_RE.test(name)) throw new AppError("validation", "a cluster name is 1–31 of a-z, 0-9 and -, starting with a letter");
  return name;
}

/** The private bridge network the nodes talk swarm over (2377, 7946, 4789/udp). */
export async function ensureClusterNetwork(name: string, subnet: string, cluster: string): Promise<void> {
  const existing = await docker().getNetwork(name).inspect().catch(() => null);
  if (existing) {
    if (existing.Labels?.[CLUSTER_LABEL] !== cluster) throw new AppError("conflict", `network ${name} exists and is not this cluster's`);
    return;
  }
  try {
    await docker().createNetwork({
      Name: name,
      Driver: "bridge",
      CheckDuplicate: true,
      IPAM: { Driver: "default", Config: [{ Subnet: subnet }] },
      Labels: { [LABEL.managed]: "true", [CLUSTER_LABEL]: cluster },
    });
  } catch (e) {
    throw engineError(`creating network ${name} (${subnet})`, e);
  }
}

function nodeCreateOptions(s: LocalNodeSpec, mode: Mode, mtu: number | null): Docker.ContainerCreateOptions {
  // The host's own spec (capabilities, mounts policy, stop timeout), then what a cluster node differs in.
  const base = containerSpec({ ...defaultHostOptions(process.cwd()), name: s.name, image: HOST_IMAGE }, mode);
  const exposed: Record<string, object> = { "2376/tcp": {} };
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = { "2376/tcp": [{ HostIp: "127.0.0.1", HostPort: "" }] };
  if (s.ports) {
    for (let p = s.ports.min; p <= s.ports.max; p++) {
      exposed[`${p}/tcp`] = {};
      bindings[`${p}/tcp`] = [{ HostIp: "127.0.0.1", HostPort: String(p) }];
    }
  }
  const hc = base.HostConfig ?? {};
  return {
    name: s.name,
    Hostname: s.name,
    Image: HOST_IMAGE,
    // Only the engine: mdind-entrypoint prepares the folders, then runs mdind-dockerd in the foreground.
    Cmd: ["/usr/local/bin/mdind-dockerd"],
    Env: ["MDIND_DOCKER_TLS=1", ...(mtu ? [`MDIND_MTU=${mtu}`] : [])],
    Healthcheck: { Test: ["NONE"] },
    ExposedPorts: exposed,
    Labels: { [LABEL.managed]: "true", [LABEL.kind]: "cluster-node", [CLUSTER_LABEL]: s.cluster, "org.moodle-dind.host-mode": mode },
    StopTimeout: 30,
    HostConfig: {
      ...hc,
      Binds: [
        `${s.name}-docker:/var/lib/docker`,
        `${s.name}-data:/var/lib/moodle-dind`,
        `${s.tlsDir}:/var/lib/moodle-dind/tls:ro`,
        ...(mode === "capabilities" ? ["/sys/fs/cgroup:/sys/fs/cgroup:rw"] : []),
      ],
      PortBindings: bindings,
      // dockerd gives up when containerd starts slowly (busy machine): let the engine retry. A node
      // killed through the API (the "node lost" drill) is not restarted: that counts as a manual stop.
      RestartPolicy: { Name: "on-failure", MaximumRetryCount: 5 },
      NetworkMode: s.network,
    },
    NetworkingConfig: { EndpointsConfig: { [s.network]: { IPAMConfig: { IPv4Address: s.ip } } } },
  };
}

async function createAndStart(opts: Docker.ContainerCreateOptions): Promise<void> {
  const c = await docker().createContainer(opts);
  try {
    await c.start();
  } catch (e) {
    await c.remove({ force: true }).catch(() => undefined);
    throw e;
  }
}

/** Start one node: --privileged where the engine allows it, else the host's explicit capabilities. */
export async function startLocalNode(s: LocalNodeSpec, log: (l: string) => void): Promise<LocalNode> {
  const mtu = await outerMtu();
  let mode: Mode = "privileged";
  try {
    await createAndStart(nodeCreateOptions(s, "privileged", mtu));
  } catch (e) {
    if (statusOf(e) === 409) throw new AppError("conflict", `a container named ${s.name} already exists (cluster down first)`);
    log(`${s.name}: --privileged refused (${msgOf(e).split("\n")[0]}); using explicit capabilities`);
    mode = "capabilities";
    try {
      await createAndStart(nodeCreateOptions(s, mode, mtu));
    } catch (e2) {
      throw new EngineError(`starting ${s.name} failed: ${msgOf(e2)}`, e2);
    }
  }
  const info = await docker().getContainer(s.name).inspect();
  const apiPort = Number(info.NetworkSettings.Ports["2376/tcp"]?.[0]?.HostPort);
  if (!apiPort) throw new EngineError(`${s.name}: its API port was not published`);
  return { name: s.name, index: s.index, ip: s.ip, apiPort, mode };
}

/** Wait until the node's engine answers over mutual TLS. */
export async function waitEngine(node: LocalNode, tls: ClientTls, timeoutMs: number): Promise<Engine> {
  const engine = tlsEngine("127.0.0.1", node.apiPort, tls);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await engine.ping();
      return engine;
    } catch (e) {
      const info = await docker().getContainer(node.name).inspect().catch(() => null);
      if (!info?.State.Running && !info?.State.Restarting && info?.State.Status !== "restarting") throw new EngineError(`${node.name} stopped; see \`docker logs ${node.name}\``);
      if (Date.now() > deadline) throw new EngineError(`${node.name}: its engine did not answer in ${timeoutMs / 1000}s (${msgOf(e)})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

async function loadImage(engine: Engine, file: string): Promise<void> {
  const stream = (await engine.loadImage(createReadStream(file), { quiet: true })) as NodeJS.ReadableStream;
  await new Promise<void>((resolve, reject) =>
    engine.modem.followProgress(stream, (err: Error | null, out: { error?: string }[]) => {
      const failed = err?.message ?? out.find((o) => o.error)?.error;
      if (failed) reject(new Error(failed));
      else resolve();
    }),
  );
}

/** A dropped connection, not a refused image: loading the same tar again is harmless. */
const TRANSIENT = /socket hang up|ECONNRESET|EPIPE|ETIMEDOUT/i;
const LOAD_ATTEMPTS = 3;

/**
 * Load image tars (docker save files) into a node's engine. Three nodes loading at once on a busy
 * 2-core machine once lost a connection mid-upload ("socket hang up", load average 60): such a
 * load is tried again, up to three times, and said so.
 */
export async function loadImages(engine: Engine, files: string[], log: (l: string) => void): Promise<void> {
  for (const file of files) {
    for (let attempt = 1; ; attempt++) {
      try {
        await loadImage(engine, file);
        break;
      } catch (e) {
        if (attempt >= LOAD_ATTEMPTS || !TRANSIENT.test(msgOf(e))) throw new EngineError(`loading ${path.basename(file)}: ${msgOf(e)}`);
        log(`loading ${path.basename(file)}: ${msgOf(e)}; trying again (${attempt + 1} of ${LOAD_ATTEMPTS})`);
        await new Promise((r) => setTimeout(r, 2000 * attempt));
      }
    }
    log(`loaded ${path.basename(file)}`);
  }
}

/** Remove a cluster's node containers, their volumes and its network (only what carries its label). */
export async function removeLocalCluster(cluster: string, network: string, log: (l: string) => void): Promise<void> {
  const filters = { label: [`${CLUSTER_LABEL}=${cluster}`] };
  const containers = await docker().listContainers({ all: true, filters });
  for (const c of containers) {
    const name = c.Names[0]?.replace(/^\//, "") ?? c.Id;
    await docker().getContainer(c.Id).remove({ force: true, v: true }).catch((e: unknown) => {
      if (statusOf(e) !== 404) throw engineError(`removing ${name}`, e);
    });
    for (const v of [`${name}-docker`, `${name}-data`]) {
      await docker().getVolume(v).remove().catch((e: unknown) => {
        if (statusOf(e) !== 404) log(`volume ${v}: ${msgOf(e)}`);
      });
    }
    log(`removed ${name}`);
  }
  const net = await docker().getNetwork(network).inspect().catch(() => null);
  if (net && net.Labels?.[CLUSTER_LABEL] === cluster) {
    await docker().getNetwork(network).remove().catch((e: unknown) => log(`network ${network}: ${msgOf(e)}`));
  }
}

export async function listLocalNodes(cluster: string): Promise<Docker.ContainerInfo[]> {
  return docker().listContainers({ all: true, filters: { label: [`${CLUSTER_LABEL}=${cluster}`] } });
}
