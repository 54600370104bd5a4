import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors";
import { validateName } from "../../lib/names";
import { readRegistry } from "../../lib/allocation";
import { CLUSTER_CHANNEL, runOperation } from "../../lib/operations";
import { activateNode, findNode, validateNodeRef, type Engine, type NodeView } from "../../lib/cluster/swarm";
import { exportForDownload } from "../../instances/downloads";
import { cloneClusterInstance, exportClusterInstance } from "./export";
import { clusterSiteSpec, createClusterInstance, drainNode, moveInstance, recoverNode, removeClusterInstance, snapshotInstance, startClusterInstance, type MoveResult } from "./instances";
import { managerEngine, requireState, type ClusterInstance } from "./state";
import { checkWant } from "../../lib/moodle/library";
import { FIXTURE, resolveClusterMoodle } from "./builds";

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

/** A new instance must not shadow one the cluster already records. */
async function freeName(nameIn: string): Promise<string> {
  const name = validateName(nameIn);
  if ((await requireState()).instances[name]) throw new ConflictError(`${name} already exists in the cluster`);
  if ((await readRegistry()).instances[name]) throw new ConflictError(`${name} is an instance of this host; pick another name`);
  return name;
}

/** Clone `from` as `to`, on `to`'s channel (a single host's clone runs on the new name too). */
export async function cloneClusterOp(from: string, to: string): Promise<ClusterInstance & { seconds: number }> {
  const src = (await existing(from)).name;
  const name = await freeName(to);
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

/**
 * Only a ready, active node can take an instance: its tasks would never be placed on another, and
 * the create or move would wait minutes before failing. Said at once instead.
 */
function placeable(node: NodeView): void {
  if (node.state !== "ready" || node.availability !== "active") throw new ConflictError(`${node.hostname} is not a ready, active node (${node.state}, ${node.availability})`);
}

/**
 * A new instance of `moodleIn` on `node` (hostname or id), else where the scheduler places it;
 * on the new name's channel, as a single host's create. The inputs' syntax is checked before the
 * cluster record is read, the name before the swarm is asked about the node, and the build (in
 * the library) and the database (against its branch) last, still before anything starts.
 */
export async function createClusterOp(nameIn: string, nodeRef?: string, db?: string, moodleIn = "auto"): Promise<ClusterInstance & { seconds: number }> {
  validateName(nameIn);
  if (nodeRef !== undefined) validateNodeRef(nodeRef);
  if (moodleIn !== FIXTURE) checkWant(moodleIn);
  const name = await freeName(nameIn);
  let node: string | undefined;
  if (nodeRef !== undefined) {
    const found = (await swarmNode(nodeRef)).node;
    placeable(found);
    // The service matches by hostname; an id from the caller becomes one here.
    node = found.hostname;
  }
  // A Moodle the library lacks, or a database the version table refuses for it, is a 422 now,
  // not a failed operation later; "auto" is fixed here, so the operation makes what was checked.
  const moodle = (await resolveClusterMoodle(moodleIn)).id;
  clusterSiteSpec(name, db, moodle);
  return runOperation(name, "create", (op) => op.step(node ? `create on ${node}` : "create where the scheduler places it", () => createClusterInstance(name, { node, db, moodle }, (l) => op.log(l))));
}

/** Deploy an instance's stack again on the node holding its data, on the instance's channel. */
export async function startClusterOp(name: string): Promise<ClusterInstance & { seconds: number }> {
  const inst = await existing(name);
  return runOperation(inst.name, "start", (op) => op.step(`start on ${inst.node}`, () => startClusterInstance(inst.name)));
}

/**
 * Move to node `to` by a live copy or from the latest snapshot, on the instance's channel. What
 * the move would refuse after stopping the site (no snapshot, the node it is on, a node that
 * cannot take it) is refused here, while it still runs.
 */
export async function moveClusterOp(name: string, to: string, how: "live" | "snapshot"): Promise<MoveResult> {
  validateName(name);
  validateNodeRef(to);
  if (how !== "live" && how !== "snapshot") throw new ValidationError("from: live or snapshot", "from");
  const inst = await existing(name);
  const { node } = await swarmNode(to);
  if (node.hostname === inst.node) throw new ConflictError(`${inst.name} is already on ${node.hostname}`);
  if (how === "snapshot" && !inst.snapshot) throw new NotFoundError(`${inst.name} has no snapshot to restore from`);
  placeable(node);
  return runOperation(inst.name, "move", (op) => op.step(`move ${inst.node} → ${node.hostname} (${how})`, () => moveInstance(inst.name, node.hostname, how, (l) => op.log(l))));
}

/** Remove an instance the cluster records (stack, overlay, data on its node, snapshot), on its channel. */
export async function removeClusterOp(name: string): Promise<{ name: string; removed: true }> {
  const inst = await existing(name);
  await runOperation(inst.name, "remove", (op) => op.step(`remove from ${inst.node}`, () => removeClusterInstance(inst.name, (l) => op.log(l))));
  return { name: inst.name, removed: true };
}

/**
 * Bring a lost node's instances back from their snapshots elsewhere, on `_cluster` like a drain
 * (both pick target nodes). A node the swarm still sees ready is not refused here: the service
 * waits for the swarm to mark it down, as the CLI's recover does, and refuses after that wait.
 */
export async function recoverNodeOp(ref: string): Promise<{ moved: MoveResult[]; lost: { name: string; lost: string }[] }> {
  const { node } = await swarmNode(ref);
  return runOperation(CLUSTER_CHANNEL, "recover", (op) => recoverNode(node.hostname, (l) => op.log(l), (s, fn) => op.step(s, fn)));
}
