import fs from "node:fs/promises";
import path from "node:path";
import { AppError, ConflictError, EngineError, NotFoundError } from "../../lib/errors";
import { settings } from "../../lib/config";
import { imageRef } from "../../lib/images/catalog";
import { copyImages } from "../../lib/images/copy";
import { validateClusterName } from "../../lib/cluster/nodes";
import { joinTokens, listNodes, localEngine, swarmInit, swarmLeave, tlsEngine, type NodeView } from "../../lib/cluster/swarm";
import { ensureCa, ensureServerCert, readClientTls } from "../../lib/cluster/tls";
import { NODE_IMAGES } from "./local";
import { clusterDir, nodeTlsDir, readState, requireState, tlsDir, updateState, writeState, type ClusterState } from "./state";

/**
 * A cluster of real machines. The host the dashboard runs on is the manager and drives its own
 * engine through its socket; every other machine runs the host image with MDIND_DOCKER_TLS=1 and a
 * server certificate from this cluster's CA (`cluster certs`), joins the swarm (`cluster join`),
 * and is recorded here with its address (`cluster add`), to be driven over mutual TLS only.
 */
const ADDR_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/;
const ADDR_IP = /^(25[0-5]|2[0-4]\d|1?\d?\d)(\.(25[0-5]|2[0-4]\d|1?\d?\d)){3}$/;
const NODE_NAME = /^[a-zA-Z0-9][a-zA-Z0-9.-]{0,62}$/;

export function validateAddress(a: string): string {
  if (!ADDR_IP.test(a) && !(ADDR_NAME.test(a) && !/^[\d.]+$/.test(a))) throw new AppError("validation", "an address is an IPv4 address or a host name");
  return a;
}

export function validateNodeName(n: string): string {
  if (!NODE_NAME.test(n)) throw new AppError("validation", "a node name is its swarm hostname: 1–63 of a-z, A-Z, 0-9, '.' and '-'");
  return n;
}

export function validateApiPort(p: number): number {
  if (!Number.isInteger(p) || p < 1 || p > 65535) throw new AppError("validation", "the API port is 1–65535");
  return p;
}

/**
 * `cluster init --advertise ADDR`: this engine becomes the swarm's manager and the record of a
 * cluster of real machines is made, with the CA the other machines' certificates come from.
 */
export async function initCluster(o: { advertise: string; name?: string; portMin?: number; portMax?: number }): Promise<{ state: ClusterState; workerToken: string }> {
  const advertise = validateAddress(o.advertise);
  const name = validateClusterName(o.name ?? process.env.MDIND_CLUSTER_NAME ?? "mdind");
  const portMin = o.portMin ?? settings().portMin;
  const portMax = o.portMax ?? settings().portMax;
  if (!Number.isInteger(portMin) || !Number.isInteger(portMax) || portMin < 1024 || portMax > 65535 || portMax < portMin) {
    throw new AppError("validation", "ports: MIN-MAX within 1024–65535");
  }
  if (await readState()) throw new ConflictError("a cluster is already recorded here");
  const engine = localEngine();
  await swarmInit(engine, advertise);
  try {
    return await recordCluster(engine, { name, advertise, portMin, portMax });
  } catch (e) {
    // No record, no swarm: a half-made cluster would answer every later init with "already part of a swarm".
    await swarmLeave(engine).catch(() => undefined);
    await fs.rm(clusterDir(), { recursive: true, force: true }).catch(() => undefined);
    throw e;
  }
}

async function recordCluster(
  engine: ReturnType<typeof localEngine>,
  o: { name: string; advertise: string; portMin: number; portMax: number },
): Promise<{ state: ClusterState; workerToken: string }> {
  const { name, advertise, portMin, portMax } = o;
  const hostname = ((await engine.info()) as { Name: string }).Name;
  await fs.mkdir(clusterDir(), { recursive: true, mode: 0o700 });
  await ensureCa(tlsDir());
  const state: ClusterState = {
    name,
    network: "",
    subnet: "",
    portMin,
    portMax,
    nodes: [{ name: hostname, index: 1, ip: advertise, apiPort: 0, reach: "local" }],
    manager: hostname,
    instances: {},
  };
  await writeState(state);
  return { state, workerToken: (await joinTokens(engine)).worker };
}

/**
 * `cluster certs NODE --address ADDR`: the three files the machine's host needs under
 * /var/lib/moodle-dind/tls to open its engine to this control plane (and to nobody else).
 */
export async function nodeCertificates(nodeIn: string, addressIn: string): Promise<{ dir: string; files: string[] }> {
  const node = validateNodeName(nodeIn);
  const address = validateAddress(addressIn);
  const s = await requireState();
  if (s.network) throw new ConflictError("this cluster's nodes are containers `cluster up` made; they have their certificates");
  const dir = nodeTlsDir(node);
  await fs.rm(dir, { recursive: true, force: true });
  const ip = ADDR_IP.test(address);
  await ensureServerCert(tlsDir(), dir, ip || address === node ? [node] : [node, address], ip ? [address] : []);
  const files = ["ca.pem", "server-cert.pem", "server-key.pem"];
  return { dir, files: files.map((f) => path.join(dir, f)) };
}

/**
 * `cluster add NODE --address ADDR`: record a machine that has joined the swarm, after proving its
 * engine answers over mutual TLS with this cluster's certificates and is that swarm node; the
 * images an instance needs are copied onto it from the manager.
 */
export async function addNode(nodeIn: string, addressIn: string, apiPortIn: number, log: (l: string) => void): Promise<{ node: NodeView; images: string[] }> {
  const node = validateNodeName(nodeIn);
  const address = validateAddress(addressIn);
  const apiPort = validateApiPort(apiPortIn);
  const s = await requireState();
  if (s.network) throw new ConflictError("nodes of a `cluster up` cluster are added by `cluster up`");
  if (s.nodes.some((n) => n.name === node)) throw new ConflictError(`${node} is already recorded`);
  const engine = tlsEngine(address, apiPort, await readClientTls(tlsDir()));
  const info = (await engine.info().catch((e: unknown) => {
    throw new EngineError(
      `${node}'s engine at ${address}:${apiPort} did not answer over mutual TLS (${(e as Error).message}); give it the files of \`cluster certs\` and start its host with MDIND_DOCKER_TLS=1`,
      e,
    );
  })) as { Name: string; Swarm?: { NodeID?: string } };
  const view = (await listNodes(localEngine())).find((n) => n.id === info.Swarm?.NodeID);
  if (!view) throw new NotFoundError(`the engine at ${address}:${apiPort} has not joined this swarm: run \`cluster join\` there first`);
  if (view.hostname !== node) throw new ConflictError(`the engine at ${address}:${apiPort} is swarm node ${view.hostname}, not ${node}`);
  const images = await copyImages(localEngine(), engine, NODE_IMAGES.map((i) => imageRef(i.kind, i.version)), log);
  await updateState((st) => {
    if (st.nodes.some((n) => n.name === node)) throw new ConflictError(`${node} is already recorded`);
    st.nodes.push({ name: node, index: Math.max(...st.nodes.map((n) => n.index)) + 1, ip: address, apiPort, reach: "direct" });
  });
  return { node: view, images };
}

export interface JoinInstructions {
  address: string;
  /** The swarm's worker token: a secret, for signed-in users only. */
  token: string;
  certs: string;
  join: string;
  add: string;
}

/** What adding a machine takes, as the Nodes view shows it; null unless this is a cluster of real machines. */
export async function joinInstructions(): Promise<JoinInstructions | null> {
  const s = await readState();
  if (!s || s.network) return null;
  const address = s.nodes.find((n) => n.name === s.manager)?.ip ?? "";
  const token = (await joinTokens(localEngine())).worker;
  return {
    address,
    token,
    certs: "moodle-dind cluster certs HOSTNAME --address ADDRESS",
    join: `moodle-dind cluster join --token ${token} --manager ${address}:2377 --advertise ADDRESS`,
    add: "moodle-dind cluster add HOSTNAME --address ADDRESS",
  };
}

/** Forget a cluster of real machines: only with no instance left; this engine leaves the swarm. */
export async function leaveCluster(): Promise<void> {
  const s = await requireState();
  if (s.network) throw new ConflictError("this cluster's nodes are containers on this machine: `cluster down` removes them");
  const left = Object.keys(s.instances);
  if (left.length) throw new ConflictError(`remove the cluster's instances first: ${left.join(", ")}`);
  await swarmLeave(localEngine());
  await writeState(null);
  await fs.rm(clusterDir(), { recursive: true, force: true });
}
