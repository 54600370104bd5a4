import Docker from "dockerode";
import { z } from "zod";
import { docker } from "../docker";
import { AppError, ConflictError, NotFoundError, ValidationError, engineError } from "../errors";
import type { ClientTls } from "./tls";

/**
 * Docker Swarm mode through dockerode: init, join, nodes, availability. Every call takes the engine
 * it acts on, so the same code drives the local engine (`cluster init` inside a host) and a node
 * reached over mutual TLS (the control plane of `cluster up`).
 */
export type Engine = Docker;

/** A node's engine over mutual TLS (port 2376 of the host image; plain TCP is never used). */
export function tlsEngine(host: string, port: number, tls: ClientTls): Engine {
  return new Docker({ protocol: "https", host, port, ca: tls.ca, cert: tls.cert, key: tls.key, timeout: 120_000 });
}

export const localEngine = (): Engine => docker();

export interface NodeView {
  id: string;
  hostname: string;
  role: "manager" | "worker";
  availability: "active" | "pause" | "drain";
  state: string;
  addr: string;
  leader: boolean;
  cpus: number;
  memoryBytes: number;
  labels: Record<string, string>;
}

const statusOf = (e: unknown) => (e as { statusCode?: number }).statusCode;
const msgOf = (e: unknown) => ((e as { json?: { message?: string } }).json?.message ?? (e as Error).message ?? "").trim();

/** Make this engine a swarm manager; `advertiseAddr` is the address other nodes join at. */
export async function swarmInit(engine: Engine, advertiseAddr: string): Promise<string> {
  try {
    return (await engine.swarmInit({ ListenAddr: "0.0.0.0:2377", AdvertiseAddr: advertiseAddr, ForceNewCluster: false })) as string;
  } catch (e) {
    if (statusOf(e) === 503 && /already part of a swarm/i.test(msgOf(e))) throw new ConflictError("this engine is already part of a swarm");
    throw engineError("swarm init", e);
  }
}

export interface JoinTokens {
  worker: string;
  manager: string;
}

export async function joinTokens(engine: Engine): Promise<JoinTokens> {
  try {
    const s = (await engine.swarmInspect()) as { JoinTokens: { Worker: string; Manager: string } };
    return { worker: s.JoinTokens.Worker, manager: s.JoinTokens.Manager };
  } catch (e) {
    if (statusOf(e) === 503 || statusOf(e) === 406) throw new NotFoundError("this engine is not a swarm manager");
    throw engineError("swarm inspect", e);
  }
}

/**
 * A node named from outside (a REST path, the dashboard): a hostname of RFC 1123 labels (at most
 * 253 characters) or a swarm node id, which is one such label. Nothing else reaches the engine:
 * no spaces, slashes, leading '-' or control characters, so it can never read as an option or path.
 */
export const NODE_REF_RE = /^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/;
export const nodeRefSchema = z.string().max(253, "at most 253 characters").regex(NODE_REF_RE, "a node's hostname (letters, digits, '-' and '.') or id");

export function validateNodeRef(ref: unknown): string {
  const r = nodeRefSchema.safeParse(ref);
  if (!r.success) throw new ValidationError(`node: ${r.error.issues[0]?.message ?? "invalid"}`, "node");
  return r.data;
}

export const JOIN_TOKEN_RE = /^SWMTKN-1-[a-z0-9]{50}-[a-z0-9]{25}$/;
const ADDR_RE = /^(?:\d{1,3}(?:\.\d{1,3}){3}|[a-zA-Z0-9][a-zA-Z0-9.-]{0,252}):\d{1,5}$/;

/** Validate a join request before it reaches the engine: a swarm token and host:port only. */
export function parseJoin(token: string, manager: string): { token: string; manager: string } {
  if (!JOIN_TOKEN_RE.test(token)) throw new AppError("validation", "the join token must look like SWMTKN-1-…");
  const addr = manager.includes(":") ? manager : `${manager}:2377`;
  if (!ADDR_RE.test(addr) || Number(addr.split(":").pop()) > 65535) throw new AppError("validation", "the manager address must be HOST or HOST:PORT");
  return { token, manager: addr };
}

export async function swarmJoin(engine: Engine, token: string, manager: string, advertiseAddr?: string): Promise<void> {
  const req = parseJoin(token, manager);
  try {
    await engine.swarmJoin({ ListenAddr: "0.0.0.0:2377", RemoteAddrs: [req.manager], JoinToken: req.token, ...(advertiseAddr ? { AdvertiseAddr: advertiseAddr } : {}) });
  } catch (e) {
    if (statusOf(e) === 503 && /already part of a swarm/i.test(msgOf(e))) throw new ConflictError("this engine is already part of a swarm");
    throw engineError("swarm join", e);
  }
}

export async function swarmLeave(engine: Engine): Promise<void> {
  await engine.swarmLeave({ force: true }).catch((e: unknown) => {
    if (statusOf(e) !== 503) throw engineError("swarm leave", e);
  });
}

type RawNode = {
  ID: string;
  Version: { Index: number };
  Spec: { Role: "manager" | "worker"; Availability: NodeView["availability"]; Labels?: Record<string, string>; Name?: string };
  Description: { Hostname: string; Resources: { NanoCPUs: number; MemoryBytes: number } };
  Status: { State: string; Addr: string };
  ManagerStatus?: { Leader?: boolean };
};

export async function listNodes(engine: Engine): Promise<NodeView[]> {
  let raw: RawNode[];
  try {
    raw = (await engine.listNodes()) as RawNode[];
  } catch (e) {
    if (statusOf(e) === 503) throw new NotFoundError("this engine is not a swarm manager");
    throw engineError("listing swarm nodes", e);
  }
  return raw
    .map((n) => ({
      id: n.ID,
      hostname: n.Description.Hostname,
      role: n.Spec.Role,
      // A manager drained by label (drainNode) reads as drained: nothing new is placed there.
      availability: n.Spec.Labels?.[DRAINED_LABEL] === "true" ? "drain" : n.Spec.Availability,
      state: n.Status.State,
      addr: n.Status.Addr,
      leader: n.ManagerStatus?.Leader === true,
      cpus: n.Description.Resources.NanoCPUs / 1e9,
      memoryBytes: n.Description.Resources.MemoryBytes,
      labels: n.Spec.Labels ?? {},
    }))
    .sort((a, b) => a.hostname.localeCompare(b.hostname));
}

/** A node by id or hostname. */
export async function findNode(engine: Engine, ref: string): Promise<NodeView> {
  const node = (await listNodes(engine)).find((n) => n.id === ref || n.hostname === ref);
  if (!node) throw new NotFoundError(`no swarm node '${ref}'`);
  return node;
}

/** drain (the scheduler moves nothing of ours: our services are pinned; the control plane does) or active. */
export function setAvailability(engine: Engine, ref: string, availability: "active" | "drain" | "pause"): Promise<NodeView> {
  return updateNode(engine, ref, (sp) => ({ ...sp, Availability: availability }));
}

/**
 * A drained manager keeps running the instance proxies (they are pinned to node.role==manager and
 * are the way in to every instance), so it is drained by this label instead of the swarm's own
 * availability, which would stop the proxies too. New instances are placed with a constraint that
 * skips labelled nodes, and the control plane moves the manager's instances as for any node.
 */
export const DRAINED_LABEL = "org.moodle-dind.drained";
export const NOT_DRAINED = `node.labels.${DRAINED_LABEL}!=true`;

async function updateNode(engine: Engine, ref: string, change: (spec: RawNode["Spec"]) => RawNode["Spec"]): Promise<NodeView> {
  const node = await findNode(engine, ref);
  const n = engine.getNode(node.id);
  try {
    const raw = (await n.inspect()) as RawNode;
    await n.update({ version: raw.Version.Index, ...change(raw.Spec) });
  } catch (e) {
    throw engineError(`node update ${node.hostname}`, e);
  }
  return findNode(engine, node.id);
}

/** Stop placing instances on a node: the swarm's drain for a worker, the label for a manager. */
export async function drainPlacement(engine: Engine, ref: string): Promise<NodeView> {
  const node = await findNode(engine, ref);
  if (node.role === "manager") return updateNode(engine, node.id, (sp) => ({ ...sp, Labels: { ...(sp.Labels ?? {}), [DRAINED_LABEL]: "true" } }));
  return setAvailability(engine, node.id, "drain");
}

/** Take a node back: active, and without the drained label. */
export async function activateNode(engine: Engine, ref: string): Promise<NodeView> {
  return updateNode(engine, ref, (sp) => {
    const labels = { ...(sp.Labels ?? {}) };
    delete labels[DRAINED_LABEL];
    return { ...sp, Availability: "active", Labels: labels };
  });
}

/** The kernel of this engine has IPVS (the ingress routing mesh and VIPs need it). */
export function ipvsHint(procVsExists: boolean): "mesh" | "proxy" {
  return procVsExists ? "mesh" : "proxy";
}
