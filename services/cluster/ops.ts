import { ConflictError, NotFoundError } from "../../lib/errors";
import { validateName } from "../../lib/names";
import { CLUSTER_CHANNEL, runOperation } from "../../lib/operations";
import { activateNode, findNode, validateNodeRef, type Engine, type NodeView } from "../../lib/cluster/swarm";
import { exportForDownload } from "../../instances/downloads";
import { cloneClusterInstance, exportClusterInstance } from "./export";
import { drainNode, snapshotInstance, type MoveResult } from "./instances";
import { managerEngine, requireState, type ClusterInstance } from "./state";

/**
 * The cluster's long verbs as operations, for the dashboard and the REST API: each runs on the
 * channel a single host's would (the instance's, a clone's new name's; node work on `_cluster`),
 * so it holds that channel's lock and its steps and log lines stream to /api/v1/events like any
 * other operation. The checks that can fail at once run before the operation starts, so a route
 * still answers 404 or 409 instead of a 202 for something that cannot begin.
 */

async function existing(name: string): Promise<ClusterInstance> {
  const inst = (await requireState()).instances[validateName(name)];
  if (!inst) throw new NotFoundError(`no cluster instance ${name}`);
  return inst;
}

/** Clone `from` as `to`, on `to`'s channel (a single host's clone runs on the new name too). */
export async function cloneClusterOp(from: string, to: string): Promise<ClusterInstance & { seconds: number }> {
  const src = (await existing(from)).name;
  const name = validateName(to);
  if ((await requireState()).instances[name]) throw new ConflictError(`${name} already exists in the cluster`);
  return runOperation(name, "clone", (op) => cloneClusterInstance(src, name, (l) => op.log(l), (s, fn) => op.step(s, fn)));
}

/** A snapshot now, on the instance's channel. */
export async function snapshotClusterOp(name: string): Promise<{ file: string; bytes: number; at: string }> {
  const inst = await existing(name);
  return runOperation(inst.name, "snapshot", (op) => op.step(`snapshot on ${inst.node}`, () => snapshotInstance(inst.name, (l) => op.log(l))));
}

/** Export to `file` on the control plane, as the instance's export operation. */
export async function exportClusterOp(name: string, file: string): Promise<{ bytes: number; node: string }> {
  const inst = await existing(name);
  return runOperation(inst.name, "export", (op) => op.step(`export from ${inst.node}`, () => exportClusterInstance(inst.name, file, (l) => op.log(l))));
}

/** Pack an export for one browser fetch (instances/downloads.ts), read from the instance's node. */
export async function exportClusterForDownload(name: string, token: string): Promise<{ bytes: number }> {
  await existing(name);
  return exportForDownload(name, token, exportClusterOp);
}

/** A node of the swarm the cluster started here runs, by hostname or id; 404 before any change. */
async function swarmNode(ref: string): Promise<{ node: NodeView; mgr: Engine }> {
  const wanted = validateNodeRef(ref);
  const mgr = await managerEngine(await requireState());
  return { node: await findNode(mgr, wanted), mgr };
}

/** Drain a node (its instances move by live copy), on the `_cluster` channel: one node operation at a time. */
export async function drainNodeOp(ref: string): Promise<{ node: string; moved: MoveResult[] }> {
  const { node } = await swarmNode(ref);
  return runOperation(CLUSTER_CHANNEL, "drain", (op) => drainNode(node.hostname, (l) => op.log(l), (s, fn) => op.step(s, fn)));
}

/** Activate a node again; short, but on `_cluster` too, so it never races a drain in progress. */
export async function activateNodeOp(ref: string): Promise<NodeView> {
  const { node, mgr } = await swarmNode(ref);
  return runOperation(CLUSTER_CHANNEL, "activate", (op) => op.step(`activate ${node.hostname}`, () => activateNode(mgr, node.id)));
}
