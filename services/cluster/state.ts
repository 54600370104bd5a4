import path from "node:path";
import { settings } from "../../lib/config";
import { ConflictError, NotFoundError } from "../../lib/errors";
import { LockBusyError, lockBusyHere, readJson, withFileLock, writeFileAtomic } from "../../lib/lock";
import { readClientTls } from "../../lib/cluster/tls";
import type { LocalNode } from "../../lib/cluster/nodes";
import type { DbEngine } from "../../lib/versions";
import { localEngine, tlsEngine, type Engine } from "../../lib/cluster/swarm";

/**
 * The control plane's record of a cluster (started with `cluster up`, or made by `cluster init`):
 * its nodes (name, address, API port) and, per instance, N, port and the node its data lives on. Kept in
 * MDIND_HOME/cluster/state.json (0600, written atomically under a file lock). The swarm itself
 * stays the truth for what runs where; this record says where data lives and where snapshots are.
 */
export interface ClusterInstance {
  name: string;
  n: number;
  port: number;
  /** Hostname of the swarm node whose volumes hold the data. */
  node: string;
  /** Its database (absent in records made before MariaDB could run in a cluster: PostgreSQL). */
  db?: { engine: DbEngine; version: string };
  /** The Moodle build id it was made from ("fixture", or absent in records made before real Moodle could run in a cluster: the fixture). */
  moodle?: string;
  /** The images its stack runs (what a restore elsewhere copies first; absent in older records: the defaults of its build). */
  images?: string[];
  snapshot?: { file: string; at: string; bytes: number };
}

/**
 * A node and how the control plane reaches its engine: a `cluster up` node at 127.0.0.1:apiPort
 * (published from its container); a real machine at ip:apiPort ("direct"), both over mutual TLS;
 * the control plane's own host through its socket ("local").
 */
export type ClusterNode = Omit<LocalNode, "mode"> & Partial<Pick<LocalNode, "mode">> & { reach?: "local" | "direct" };

export interface ClusterState {
  name: string;
  /** The bridge `cluster up` nodes talk over; "" for a cluster of real machines. */
  network: string;
  subnet: string;
  portMin: number;
  portMax: number;
  nodes: ClusterNode[];
  manager: string;
  instances: Record<string, ClusterInstance>;
}

export const clusterDir = () => path.join(settings().home, "cluster");
export const stateFile = () => path.join(clusterDir(), "state.json");
export const tlsDir = () => path.join(clusterDir(), "tls");
export const nodeTlsDir = (node: string) => path.join(clusterDir(), "nodes", node);
/** Snapshots live with the control plane (the manager's data dir), not on the node they came from. */
export const snapshotDir = () => path.join(clusterDir(), "snapshots");

export async function readState(): Promise<ClusterState | null> {
  return readJson<ClusterState | null>(stateFile(), null);
}

export async function requireState(): Promise<ClusterState> {
  const s = await readState();
  if (!s) throw new NotFoundError("no cluster: run `moodle-dind cluster up --nodes N` first");
  return s;
}

export async function writeState(s: ClusterState | null): Promise<void> {
  await writeFileAtomic(stateFile(), JSON.stringify(s, null, 2), 0o600);
}

/** Read-modify-write the record under its lock. */
export async function updateState<T>(fn: (s: ClusterState) => T | Promise<T>): Promise<T> {
  const { mkdir } = await import("node:fs/promises");
  await mkdir(clusterDir(), { recursive: true, mode: 0o700 });
  return withFileLock(stateFile(), async () => {
    const s = await requireState();
    const out = await fn(s);
    await writeState(s);
    return out;
  });
}

/**
 * One cluster operation per instance at a time, across processes (the dashboard, the CLI, the
 * snapshot timer): a snapshot read while a move deletes the old copy would replace a good snapshot
 * with a partial one. `wait: false` (the timer) gives up at once instead of queueing.
 */
export async function withInstanceLock<T>(name: string, fn: () => Promise<T>, opts: { wait?: boolean } = {}): Promise<T> {
  const file = path.join(clusterDir(), "locks", `${name}.lock`);
  try {
    // Held or queued for in this process: the file lock's no-wait only covers other processes.
    if (opts.wait === false && lockBusyHere(file)) throw new LockBusyError(`${name}.lock is busy here`);
    // Moves and snapshots hold it for minutes on a busy machine: a generous stale time.
    return await withFileLock(file, fn, { wait: opts.wait, stale: 120_000 });
  } catch (e) {
    if (e instanceof LockBusyError) throw new ConflictError(`${name} is busy with another cluster operation; try again when it ends`);
    throw e;
  }
}

const engines = new Map<string, Engine>();

/** A node's engine, by its swarm hostname (for `cluster up` nodes also their container name). */
export async function nodeEngine(s: ClusterState, node: string): Promise<Engine> {
  const n = s.nodes.find((x) => x.name === node);
  if (!n) throw new NotFoundError(`no node '${node}' in cluster ${s.name}`);
  if (n.reach === "local") return localEngine();
  const host = n.reach === "direct" ? n.ip : "127.0.0.1";
  const key = `${n.name}:${host}:${n.apiPort}`;
  let e = engines.get(key);
  if (!e) {
    e = tlsEngine(host, n.apiPort, await readClientTls(tlsDir()));
    engines.set(key, e);
  }
  return e;
}

export const managerEngine = (s: ClusterState) => nodeEngine(s, s.manager);

/** The manager of a cluster started here, or null (then verbs act on this host's own engine). */
export async function clusterManagerEngine(): Promise<Engine | null> {
  const s = await readState();
  return s ? managerEngine(s) : null;
}
