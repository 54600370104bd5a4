import fs from "node:fs/promises";
import path from "node:path";
import { AppError, ConflictError } from "../../lib/errors";
import { syncSharedImages } from "../../lib/host/shared";
import { ensureClusterNetwork, loadImages, removeLocalCluster, startLocalNode, validateClusterName, waitEngine, type LocalNode } from "../../lib/cluster/nodes";
import { joinTokens, listNodes, swarmInit, swarmJoin, type Engine, type NodeView } from "../../lib/cluster/swarm";
import { ensureCa, ensureServerCert, readClientTls } from "../../lib/cluster/tls";
import { clusterDir, nodeTlsDir, readState, tlsDir, writeState, type ClusterState } from "./state";

/**
 * `cluster up --nodes N` / `cluster down`: N DinD host containers on one computer, joined in one
 * swarm, for trying a cluster without N machines. Node 1 is the manager and publishes the instance
 * port range on 127.0.0.1.
 */
export interface UpOptions {
  nodes: number;
  name?: string;
  /** Instance ports published on the manager (a window of MDIND_PORT_RANGE). */
  portMin?: number;
  portMax?: number;
  /** /24 for the private bridge the nodes talk over. */
  subnet?: string;
}

/** The images an instance of the default stack needs (php 8.2, postgres 15, nginx 1.22). */
export const NODE_IMAGES = [
  { kind: "php", version: "8.2" },
  { kind: "postgres", version: "15" },
  { kind: "nginx", version: "1.22" },
];

const SUBNET_RE = /^(10|172|192)\.(\d{1,3})\.(\d{1,3})\.0\/24$/;

export function parseUpOptions(o: UpOptions): Required<UpOptions> {
  const nodes = o.nodes;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 9) throw new AppError("validation", "--nodes must be 1–9 on one machine");
  const [defMin, defMax] = (process.env.MDIND_PORT_RANGE ?? "8000-8099").split("-").map(Number);
  const portMin = o.portMin ?? defMin;
  const portMax = o.portMax ?? defMax;
  if (!Number.isInteger(portMin) || !Number.isInteger(portMax) || portMin < 1024 || portMax > 65535 || portMax < portMin || portMax - portMin > 999) {
    throw new AppError("validation", "ports: MIN-MAX within 1024–65535, at most 1000 ports");
  }
  const subnet = o.subnet ?? process.env.MDIND_CLUSTER_SUBNET ?? "10.213.7.0/24";
  const m = SUBNET_RE.exec(subnet);
  if (!m || Number(m[2]) > 255 || Number(m[3]) > 255 || subnet.startsWith("172.20.") || subnet.startsWith("172.21.")) {
    throw new AppError("validation", "the cluster subnet must be a private A.B.C.0/24 outside 172.20/16 and 172.21/16");
  }
  return { nodes, name: validateClusterName(o.name ?? process.env.MDIND_CLUSTER_NAME ?? "mdind"), portMin, portMax, subnet };
}

const nodeIp = (subnet: string, i: number) => subnet.replace(/\.0\/24$/, `.${10 + i}`);

export async function clusterUp(input: UpOptions, log: (l: string) => void): Promise<{ state: ClusterState; nodes: NodeView[]; seconds: number }> {
  const o = parseUpOptions(input);
  const started = Date.now();
  if (await readState()) throw new ConflictError("a cluster is already recorded here: `moodle-dind cluster down` first");
  const network = `${o.name}-cluster`;
  await ensureCa(tlsDir());
  const tls = await readClientTls(tlsDir());
  const imagesDir = path.resolve(process.env.MDIND_APP_ROOT ?? process.cwd(), process.env.MDIND_SHARED_IMAGES_DIR ?? "shared-images");
  const images = await syncSharedImages(imagesDir, NODE_IMAGES, log);
  const tars = [...images.written, ...images.current];
  await ensureClusterNetwork(network, o.subnet, o.name);
  const nodes: LocalNode[] = [];
  const engines: Engine[] = [];
  for (let i = 1; i <= o.nodes; i++) {
    const name = `${o.name}-node${i}`;
    const ip = nodeIp(o.subnet, i);
    await ensureServerCert(tlsDir(), nodeTlsDir(name), [name], [ip]);
    const node = await startLocalNode(
      { cluster: o.name, name, index: i, ip, network, tlsDir: nodeTlsDir(name), ports: i === 1 ? { min: o.portMin, max: o.portMax } : null },
      log,
    );
    log(`${name} started (${node.mode}, ${ip}, API 127.0.0.1:${node.apiPort})`);
    nodes.push(node);
    // One engine starting at a time: three containerd boots at once time out on two cores.
    engines.push(await waitEngine(node, tls, 180_000));
  }
  const state: ClusterState = { name: o.name, network, subnet: o.subnet, portMin: o.portMin, portMax: o.portMax, nodes, manager: nodes[0].name, instances: {} };
  await fs.mkdir(clusterDir(), { recursive: true, mode: 0o700 });
  await writeState(state);
  // Image loads in parallel: each node reads the same tars.
  await Promise.all(engines.map((e, i) => loadImages(e, tars, (l) => log(`${nodes[i].name}: ${l}`))));
  await swarmInit(engines[0], nodes[0].ip);
  const tokens = await joinTokens(engines[0]);
  for (let i = 1; i < nodes.length; i++) {
    await swarmJoin(engines[i], tokens.worker, `${nodes[0].ip}:2377`, nodes[i].ip);
    log(`${nodes[i].name} joined the swarm`);
  }
  const view = await waitReady(engines[0], nodes.length);
  return { state, nodes: view, seconds: (Date.now() - started) / 1000 };
}

async function waitReady(manager: Awaited<ReturnType<typeof waitEngine>>, count: number): Promise<NodeView[]> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const nodes = await listNodes(manager);
    if (nodes.filter((n) => n.state === "ready").length >= count) return nodes;
    if (Date.now() > deadline) throw new AppError("engine", `only ${nodes.filter((n) => n.state === "ready").length} of ${count} nodes ready`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** Remove the node containers, their volumes, the network and the record (snapshots included). */
export async function clusterDown(log: (l: string) => void, name?: string): Promise<void> {
  const s = await readState();
  if (s && !s.network) throw new ConflictError("this cluster joins real machines: `cluster leave` forgets it");
  const cluster = s?.name ?? validateClusterName(name ?? "mdind");
  await removeLocalCluster(cluster, s?.network ?? `${cluster}-cluster`, log);
  await fs.rm(clusterDir(), { recursive: true, force: true });
}
