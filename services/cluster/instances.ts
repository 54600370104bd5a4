import fs from "node:fs";
import fsp from "node:fs/promises";
import path from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import type Docker from "dockerode";
import tar from "tar-stream";
import { LABEL, managedLabels } from "../../lib/docker";
import { AppError, CommandError, ConflictError, EngineError, NotFoundError, engineError } from "../../lib/errors";
import { mailPassword } from "../../lib/mail/auth";
import { smtpPort } from "../../lib/mail/server";
import { imageRef } from "../../lib/images/catalog";
import { validateName } from "../../lib/names";
import { inlineStep, type Operation } from "../../lib/operations";
import { execOn, missingOn, readFolder, readJsonOn, runInHost, runOn, taskContainer, writeFolder, type Captured } from "../../lib/cluster/engine-io";
import { activateNode, drainPlacement, listNodes, localEngine, NOT_DRAINED, type Engine } from "../../lib/cluster/swarm";
import { subnetFor, gatewayFor, nFromSubnet, N_MIN, N_MAX } from "../../networks/subnets";
import { parseCreateInput, resolveSpec, type DbEngine, type InstanceSpec } from "../../instances/spec";
import { SERVICES, stackImages } from "../../instances/stack";
import { dumpCommand, readyCommand, restoreSteps } from "../../instances/db";
import { publicHost } from "../../instances/lifecycle";
import { httpGetLoopback } from "../../instances/ready";
import { copyImages } from "../../lib/images/copy";
import { readRegistry } from "../../lib/allocation";
import { ensureImages } from "../../lib/images/build";
import { HELPER_IMAGE, NODE_APP, NODE_HOME, NODE_INSTANCES, STACK_SERVICES, overlayName, proxyConfig, proxySpec, serviceName, serviceSpecs } from "./stack";
import { managerEngine, nodeEngine, requireState, snapshotDir, updateState, withInstanceLock, type ClusterInstance, type ClusterState } from "./state";
import { withDeadline } from "../../lib/deadline";
import { branchOfId, ensureBuildOn, FIXTURE, resolveClusterMoodle } from "./builds";

/**
 * Instances of a cluster: created on the node the swarm scheduler picks, run as a swarm stack
 * pinned there, moved between nodes (live copy, or the latest snapshot when the node is gone).
 */
const RESERVE_MB = Number.parseInt(process.env.MDIND_CLUSTER_RESERVE_MB ?? "256", 10);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function allocate(s: ClusterState, mgr: Engine): Promise<{ n: number; port: number }> {
  const usedN = new Set(Object.values(s.instances).map((i) => i.n));
  for (const net of await mgr.listNetworks()) for (const c of net.IPAM?.Config ?? []) {
    const n = c.Subnet ? nFromSubnet(c.Subnet) : null;
    if (n !== null) usedN.add(n);
  }
  // Low N stay free for the nodes' own local bridges (mdind-n1…), which a node's create makes.
  let n = 0;
  for (let i = 100; i <= N_MAX && !n; i++) if (!usedN.has(i)) n = i;
  for (let i = N_MIN; i < 100 && !n; i++) if (!usedN.has(i)) n = i;
  const usedP = new Set(Object.values(s.instances).map((i) => i.port));
  // On a real manager its own single-host instances take ports from the same range: running ones
  // publish them, stopped ones keep them in this host's registry.
  for (const c of await mgr.listContainers({ all: true })) for (const p of c.Ports ?? []) if (p.PublicPort) usedP.add(p.PublicPort);
  if (s.nodes.find((x) => x.name === s.manager)?.reach === "local") for (const a of Object.values((await readRegistry()).instances)) usedP.add(a.port);
  let port = 0;
  for (let p = s.portMin; p <= s.portMax && !port; p++) if (!usedP.has(p)) port = p;
  if (!n || !port) throw new ConflictError("the cluster has no free network or port left");
  return { n, port };
}

async function nodeHostnames(mgr: Engine): Promise<Map<string, string>> {
  return new Map((await listNodes(mgr)).map((n) => [n.id, n.hostname]));
}

/**
 * Ask the swarm scheduler where an instance goes: a placeholder service with the instance's
 * reservation, placed like any task (spread over active nodes, only where the memory fits). Its
 * node is the answer; the placeholder is removed.
 */
async function placeByScheduler(mgr: Engine, name: string): Promise<string> {
  const probe = `mdind-place-${name}`;
  const svc = await mgr.createService({
    Name: probe,
    Labels: managedLabels({ [LABEL.instance]: name }),
    TaskTemplate: {
      ContainerSpec: { Image: HELPER_IMAGE, Command: ["sleep", "300"] },
      Resources: { Reservations: { MemoryBytes: RESERVE_MB * 2 ** 20 } },
      RestartPolicy: { Condition: "none" },
      Placement: { Constraints: [NOT_DRAINED] },
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: "dnsrr" },
  } as never).catch((e: unknown) => {
    throw engineError("placing the instance", e);
  });
  try {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const tasks = (await mgr.listTasks({ filters: { service: [probe] } })) as { NodeID?: string; Status: { State: string; Err?: string } }[];
      const t = tasks.find((x) => x.NodeID);
      if (t?.NodeID) {
        const host = (await nodeHostnames(mgr)).get(t.NodeID);
        if (host) return host;
      }
      if (Date.now() > deadline) throw new ConflictError(`no node can take ${name}: ${tasks[0]?.Status.Err ?? "the scheduler placed nothing"}`);
      await sleep(500);
    }
  } finally {
    await svc.remove().catch(() => undefined);
  }
}

/**
 * Where a node's instances send mail: the control plane's catcher, reached through the node's NAT
 * (the cluster network's gateway is this side of it; MDIND_CLUSTER_MAIL_HOST for real machines),
 * logging in as themselves because every instance on a node arrives from the node's address.
 */
async function mailEnv(s: ClusterState, name: string): Promise<string[]> {
  // A cluster of real machines: the manager's address, where its host publishes the catcher.
  const manager = s.nodes.find((x) => x.name === s.manager)?.ip ?? "";
  const host = process.env.MDIND_CLUSTER_MAIL_HOST ?? (s.network ? s.subnet.replace(/\.0\/24$/, ".1") : manager);
  return [`MDIND_SMTP_HOST=${host}`, `MDIND_SMTP_PORT=${smtpPort()}`, `MDIND_SMTP_PASS=${await mailPassword(name)}`];
}

const RELEASE_SCRIPT = 'const { release } = await import("/opt/moodle-dind/lib/allocation.ts"); await release(process.argv[1]);';

/**
 * Make the instance's folders, config and installed site on the node with the node's own
 * moodle-dind (the same create as a single host), then hand its data to the swarm: the node-local
 * containers and bridge go, the folder stays. Everything goes through the node's engine API, so
 * a real remote machine takes it as well as a node `cluster up` started here.
 */
async function prepareOnNode(s: ClusterState, node: string, name: string, port: number, log: (l: string) => void, from: { archive?: string; db?: string; moodle?: string }): Promise<InstanceSpec> {
  // From an export archive already on the node (a clone), else a new site of a build in the node's library.
  const verb = from.archive ? ["import", from.archive, name, "--json"] : ["create", name, "--moodle", from.moodle ?? FIXTURE, ...(from.db ? ["--db", from.db] : []), "--json"];
  const engine = await nodeEngine(s, node);
  // The node's library holds only what the control plane copied there: the host's own Moodle
  // sources (its moodle-sources/, MOODLE_SOURCE) are not scanned into it as well.
  const noSources = [`MDIND_MOODLE_SOURCES=${NODE_HOME}/no-sources`, "MOODLE_SOURCE="];
  // Users reach every instance at the manager: its wwwroot names the control plane's public host
  // (the node's own setting would name the node).
  const env = [`MDIND_PUBLIC_HOST=${publicHost()}`, `MDIND_HOME=${NODE_HOME}`, `MDIND_PORT_RANGE=${port}-${port}`, "MDIND_PREALLOCATED_NETWORKS=0", ...noSources, ...(await mailEnv(s, name))];
  const create = () => runInHost(engine, HELPER_IMAGE, ["node", "bin/moodle-dind.mjs", ...verb], { cwd: NODE_APP, env, what: `create ${name} on ${node}`, timeoutMs: 900_000 });
  // A node's first PostgreSQL initdb can outlast the create's 120 s readiness wait on a busy
  // machine; the create rolls itself back, and a second try finds the images and disk warm. A
  // port a removed instance's proxy held is free on the node a moment after its container goes
  // (the node CLI tests the bind): a few short waits, then its own error.
  let r: Captured | undefined;
  for (let attempt = 1, initdbRetried = false; !r; attempt++) {
    try {
      r = await create();
    } catch (e) {
      const msg = (e as Error).message;
      if (/did not become ready/.test(msg) && !initdbRetried) initdbRetried = true;
      else if (!/port pool .* is full/.test(msg) || attempt >= 6) throw e;
      log(`${name}: ${msg.split("\n")[0]}; trying again`);
      await sleep(/port pool/.test(msg) ? 3000 : 0);
    }
  }
  const view = JSON.parse(r.stdout.trim().split("\n").filter((l) => l.startsWith("{")).pop() ?? "{}") as { n?: number };
  log(`${name}: made on ${node} by its own moodle-dind`);
  for (const svc of SERVICES) await engine.getContainer(`mdind-${name}-${svc}`).remove({ force: true }).catch(() => undefined);
  if (view.n) await engine.getNetwork(`mdind-n${view.n}`).remove().catch(() => undefined);
  // The node's registry forgets the instance: the cluster's record owns its port and N now.
  await runInHost(engine, HELPER_IMAGE, ["node", "--import", "tsx", "--input-type=module", "-e", RELEASE_SCRIPT, name], { cwd: NODE_APP, env: [`MDIND_HOME=${NODE_HOME}`], what: "release the node's allocation" });
  return readSpec(s, node, name);
}

async function ensureOverlay(mgr: Engine, n: number, name: string): Promise<void> {
  const existing = await mgr.getNetwork(overlayName(n)).inspect().catch(() => null);
  if (existing) return;
  await mgr
    .createNetwork({
      Name: overlayName(n),
      Driver: "overlay",
      Attachable: true,
      CheckDuplicate: true,
      IPAM: { Driver: "default", Config: [{ Subnet: subnetFor(n), Gateway: gatewayFor(n) }] },
      Labels: managedLabels({ [LABEL.n]: String(n), [LABEL.instance]: name }),
    })
    .catch((e: unknown) => {
      throw engineError(`creating overlay ${overlayName(n)} (${subnetFor(n)})`, e);
    });
}

async function readSpec(s: ClusterState, node: string, name: string): Promise<InstanceSpec> {
  return (await readJsonOn<{ spec: InstanceSpec }>(await nodeEngine(s, node), HELPER_IMAGE, NODE_INSTANCES, `${name}/instance.json`)).spec;
}

async function deployStack(s: ClusterState, inst: ClusterInstance, spec: InstanceSpec, only?: readonly string[]): Promise<void> {
  const mgr = await managerEngine(s);
  await ensureOverlay(mgr, inst.n, inst.name);
  const specs = serviceSpecs({ name: inst.name, spec, n: inst.n, port: inst.port, node: inst.node, reserveMemoryMb: RESERVE_MB });
  // Files the node's image does not have (an image older than this checkout) are not mounted.
  const missing = new Set<string>();
  type Cs = { Mounts?: { Source?: string }[] };
  const csOf = (x: (typeof specs)[keyof typeof specs]) => (x.TaskTemplate as { ContainerSpec: Cs }).ContainerSpec;
  const appFiles = Object.values(specs).flatMap((x) => (csOf(x).Mounts ?? []).map((m) => m.Source ?? "").filter((src) => src.startsWith(`${NODE_APP}/`)));
  for (const f of await missingOn(await nodeEngine(s, inst.node), HELPER_IMAGE, NODE_APP, [...new Set(appFiles)])) missing.add(f);
  for (const spec of Object.values(specs)) {
    const cs = csOf(spec);
    cs.Mounts = (cs.Mounts ?? []).filter((m) => !missing.has(m.Source ?? ""));
  }
  // The engine's own words when a service cannot be made (an overlay still going away, a name
  // taken), as a typed engine error rather than an unexplained 500.
  const put = async (spec: Docker.CreateServiceOptions) => {
    const existing = await mgr.getService(spec.Name!).inspect().catch(() => null);
    await (existing ? mgr.getService(spec.Name!).update({ version: existing.Version.Index, ...spec } as never) : mgr.createService(spec as never)).catch((e: unknown) => {
      throw engineError(`${existing ? "updating" : "creating"} service ${spec.Name}`, e);
    });
  };
  for (const svc of only ?? SERVICES) await put(specs[svc as keyof typeof specs]);
  if (only) return;
  const configName = `mdind-${inst.name}-proxy-${inst.port}`;
  const cfg = (await mgr.getConfig(configName).inspect().catch(() => null)) as { ID: string } | null;
  const made = cfg ? null : ((await mgr.createConfig({ Name: configName, Data: Buffer.from(proxyConfig(inst.port)).toString("base64"), Labels: managedLabels({ [LABEL.instance]: inst.name }) } as never).catch((e: unknown) => {
    throw engineError(`creating config ${configName}`, e);
  })) as unknown as { id: string });
  await put(proxySpec(inst.name, inst.n, inst.port, cfg?.ID ?? made!.id, configName));
}

/** Scale the stack's pinned services to `replicas` (0 stops the instance everywhere). */
async function scale(mgr: Engine, name: string, replicas: number, services: readonly string[] = SERVICES): Promise<void> {
  for (const svc of services) {
    const s = mgr.getService(serviceName(name, svc));
    const info = await s.inspect().catch(() => null);
    if (!info) continue;
    await s.update({ version: info.Version.Index, ...info.Spec, Mode: { Replicated: { Replicas: replicas } } } as never);
  }
}

/** Wait until no task container of the instance runs on `node` (or the node is gone); its proxy too with `proxyToo`. */
async function waitStopped(s: ClusterState, node: string, name: string, opts: { proxyToo?: boolean } = {}): Promise<void> {
  const engine = await nodeEngine(s, node);
  const deadline = Date.now() + 90_000;
  for (;;) {
    // The instance's proxy runs on the manager for good (it is the way in): only db, app, web and
    // cron stop, unless the instance itself goes.
    const left = (await engine.listContainers({ filters: { label: [`${LABEL.instance}=${name}`] } }).catch(() => [])).filter((c) => opts.proxyToo || c.Labels?.[LABEL.service] !== "proxy");
    if (left.length === 0) return;
    if (Date.now() > deadline) throw new EngineError(`${name}'s containers on ${node} did not stop`);
    await sleep(500);
  }
}

/**
 * Until the site answers through the manager: the fixture's front page with its site (its
 * installed DB reached), or Moodle's login page (Moodle answers it only with its database up;
 * a bootstrap error is a 503 page).
 */
export async function waitAnswer(port: number, moodle: string = FIXTURE, timeoutMs = 420_000): Promise<Record<string, unknown>> {
  const deadline = Date.now() + timeoutMs;
  const fixture = moodle === FIXTURE;
  let last = "";
  for (;;) {
    try {
      // One deadline for headers and body, on a timer that holds the event loop (lib/deadline.ts);
      // addressed as its wwwroot (the public host; the proxy passes Host on), or Moodle redirects.
      const { status, body } = await withDeadline(fixture ? 5000 : 30_000, (signal) => httpGetLoopback(port, fixture ? "/" : "/login/index.php", `${publicHost()}:${port}`, signal));
      if (status === 200 && !fixture && body.includes('id="loginbtn"')) return { site: "moodle", login: true };
      if (status === 200 && fixture) {
        const j = JSON.parse(body) as Record<string, unknown>;
        if (j.site) return j;
      }
      last = `${status} ${body.slice(0, 120)}`;
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new EngineError(`port ${port} did not answer in ${timeoutMs / 1000}s (${last})`);
    await sleep(500);
  }
}

/** Copies a control-plane file onto a node, through its engine, as `/tmp/<entry>` there. */
async function putOntoNode(engine: Engine, file: string, entry: string): Promise<void> {
  const pack = tar.pack();
  const src = fs.createReadStream(file);
  const item = pack.entry({ name: entry, size: (await fsp.stat(file)).size, mode: 0o600 }, (e) => (e ? pack.destroy(e) : pack.finalize()));
  pipeline(src, item).catch((e: unknown) => pack.destroy(e as Error));
  try {
    await writeFolder(engine, HELPER_IMAGE, "/tmp", pack as unknown as Readable);
  } catch (e) {
    src.destroy();
    pack.destroy();
    throw e;
  }
}

/** The stack of a cluster site of build `moodle` (an id, or the fixture) with `db` (ENGINE[:VERSION], default PostgreSQL); validates `db` against the build's branch. */
export function clusterSiteSpec(name: string, db?: string, moodle: string = FIXTURE): InstanceSpec {
  return resolveSpec(parseCreateInput({ name, moodle, ...(db ? { db } : {}) }), branchOfId(moodle));
}

const imageRefs = (spec: InstanceSpec) => stackImages(spec).map((i) => imageRef(i.kind, i.version));

/**
 * A new instance of the cluster, placed by the swarm scheduler (or on `opts.node`): a new site of
 * `opts.moodle` (what a single host's create takes: "auto" for the newest build in this host's
 * library, a branch, release or build id, or "fixture") on `opts.db` (ENGINE[:VERSION]), or with
 * `opts.archive` (an export archive on the control plane, of build id `opts.moodle` on `opts.db`)
 * that site imported. Builds and images the nodes lack are copied from this host.
 */
export async function createClusterInstance(nameIn: string, opts: { node?: string; archive?: string; db?: string; moodle?: string }, log: (l: string) => void): Promise<ClusterInstance & { seconds: number }> {
  const name = validateName(nameIn);
  // An archive carries its code: only its build's name is kept, for the images a restore needs.
  const moodle = opts.archive ? (opts.moodle ?? FIXTURE) : (await resolveClusterMoodle(opts.moodle ?? "auto")).id;
  const want = clusterSiteSpec(name, opts.db, moodle);
  const started = Date.now();
  const s0 = await requireState();
  if (s0.instances[name]) throw new ConflictError(`${name} already exists in the cluster`);
  // One namespace with this host's own instances: the dashboard lists both, and on a manager that
  // is this host the node's create would meet that instance's containers.
  if ((await readRegistry()).instances[name]) throw new ConflictError(`${name} is an instance of this host; pick another name`);
  const mgr = await managerEngine(s0);
  const node = opts.node ? (await listNodes(mgr)).find((n) => n.hostname === opts.node)?.hostname : await placeByScheduler(mgr, name);
  if (!node) throw new NotFoundError(`no node '${opts.node}'`);
  const inst = await updateState(async (s) => {
    if (s.instances[name]) throw new ConflictError(`${name} already exists in the cluster`);
    const a = await allocate(s, mgr);
    const rec: ClusterInstance = { name, n: a.n, port: a.port, node, moodle };
    s.instances[name] = rec;
    return rec;
  });
  log(`${name}: placed on ${node}, 172.20.${inst.n}.0/24, port ${inst.port}`);
  try {
    // Made on the manager, whose templates are warm (a node's first PostgreSQL initdb takes minutes
    // on a busy machine), then copied to the placed node through both engines.
    let spec: InstanceSpec;
    // On this host's engine first (built when missing, as a single host's create does), then to the manager.
    await ensureImages(stackImages(want), log);
    await copyImages(localEngine(), await nodeEngine(s0, s0.manager), imageRefs(want), log);
    if (opts.archive) {
      const entry = `mdind-import-${name}.tar.gz`;
      const engine = await nodeEngine(s0, s0.manager);
      try {
        await putOntoNode(engine, opts.archive, entry);
        spec = await prepareOnNode(s0, s0.manager, name, inst.port, log, { archive: `/tmp/${entry}` });
      } finally {
        // A partly written copy goes too.
        await runOn(engine, HELPER_IMAGE, "/tmp", ["rm", "-f", `/mnt/${entry}`]).catch(() => undefined);
      }
    } else {
      await ensureBuildOn(await nodeEngine(s0, s0.manager), HELPER_IMAGE, moodle, log);
      spec = await prepareOnNode(s0, s0.manager, name, inst.port, log, { db: opts.db, moodle });
    }
    inst.db = { engine: spec.db.engine, version: spec.db.version };
    inst.images = imageRefs(spec);
    await updateState((s) => {
      if (s.instances[name]) Object.assign(s.instances[name], { db: inst.db, images: inst.images });
    });
    if (node !== s0.manager) {
      await copyImages(localEngine(), await nodeEngine(s0, node), imageRefs(spec), log);
      await liveCopy(s0, s0.manager, node, name);
      await runOn(await nodeEngine(s0, s0.manager), HELPER_IMAGE, NODE_INSTANCES, ["rm", "-rf", `/mnt/${name}`]);
      log(`${name}: data copied to ${node}`);
    }
    await deployStack(await requireState(), inst, spec);
    log(`${name}: stack deployed on ${node}; waiting for 127.0.0.1:${inst.port}`);
    await waitAnswer(inst.port, moodle);
  } catch (e) {
    await removeClusterInstance(name, () => undefined).catch(() => undefined);
    // What the manager's own create left when a later step failed: its copy, and (after a
    // timeout killed it before its own rollback) its containers and record in the node's data dir.
    const m = await nodeEngine(s0, s0.manager).catch(() => null);
    if (m) {
      await runOn(m, HELPER_IMAGE, NODE_INSTANCES, ["rm", "-rf", `/mnt/${name}`]).catch(() => undefined);
      await runInHost(m, HELPER_IMAGE, ["node", "bin/moodle-dind.mjs", "remove", name, "--yes", "--json"], { cwd: NODE_APP, env: [`MDIND_HOME=${NODE_HOME}`], check: false, timeoutMs: 120_000 }).catch(() => undefined);
    }
    throw e;
  }
  log(`${name}: answers on 127.0.0.1:${inst.port}`);
  return { ...inst, seconds: (Date.now() - started) / 1000 };
}

/** Deploy (again) an instance's stack on the node holding its data, and wait for it to answer. */
export async function startClusterInstance(name: string): Promise<ClusterInstance & { seconds: number }> {
  const started = Date.now();
  const s = await requireState();
  const inst = s.instances[name];
  if (!inst) throw new NotFoundError(`no cluster instance ${name}`);
  await deployStack(s, inst, await readSpec(s, inst.node, name));
  await waitAnswer(inst.port, inst.moodle);
  return { ...inst, seconds: (Date.now() - started) / 1000 };
}

export async function listClusterInstances(): Promise<(ClusterInstance & { running: boolean; webNode: string | null })[]> {
  const s = await requireState();
  const mgr = await managerEngine(s);
  const hosts = await nodeHostnames(mgr);
  const out = [];
  for (const inst of Object.values(s.instances)) {
    const tasks = (await mgr.listTasks({ filters: { service: [serviceName(inst.name, "web")], "desired-state": ["running"] } }).catch(() => [])) as { NodeID?: string; Status: { State: string } }[];
    const t = tasks.find((x) => x.Status.State === "running");
    out.push({ ...inst, running: !!t, webNode: t?.NodeID ? (hosts.get(t.NodeID) ?? null) : null });
  }
  return out;
}

/** The engine of an instance's database (records older than MariaDB in a cluster: PostgreSQL). */
export const dbEngineOf = (inst: ClusterInstance): DbEngine => inst.db?.engine ?? "postgres";

/** Where a snapshot keeps its dump. */
const snapshotDump = (engine: DbEngine) => (engine === "postgres" ? "db.pgdump" : "db.sql");

/** The instance's database dumped by its running db task (instances/db.ts's dump): consistent while the site runs. */
export async function dumpOnNode(engine: Engine, inst: ClusterInstance): Promise<Buffer> {
  const { cmd, user } = dumpCommand(dbEngineOf(inst));
  for (let attempt = 1; ; attempt++) {
    const db = await taskContainer(engine, serviceName(inst.name, "db"));
    if (!db) throw new ConflictError(`${inst.name}'s database is not running on ${inst.node}`);
    try {
      return (await execOn(engine, db, cmd, { user, what: "database dump" })).stdout;
    } catch (e) {
      // 126 with nothing said is the runtime failing to start the exec: the task's container was
      // on its way out (the swarm replacing it) when it was picked. Its successor is asked instead.
      const runtime = e instanceof CommandError && e.exitCode === 126 && !e.stderr.trim();
      if (!runtime || attempt >= 3) throw e;
      await sleep(2000);
    }
  }
}

/** A tar stream of the instance's folder on a node (entries start with `NAME/`); call done() after. */
export const readInstanceFolder = (engine: Engine, name: string) => readFolder(engine, HELPER_IMAGE, NODE_INSTANCES, name);

/**
 * A snapshot: the database dumped by the running db (consistent while the site runs) plus the
 * instance folder without the live database files, as one tar.gz in the control plane's
 * cluster/snapshots/ (the manager's data dir), where a restore on any node reads it from.
 */
export function snapshotInstance(name: string, log: (l: string) => void, opts: { wait?: boolean } = {}): Promise<{ file: string; bytes: number; at: string }> {
  return withInstanceLock(name, () => takeSnapshot(name, log), opts);
}

async function takeSnapshot(name: string, log: (l: string) => void): Promise<{ file: string; bytes: number; at: string }> {
  const s = await requireState();
  const inst = s.instances[name];
  if (!inst) throw new NotFoundError(`no cluster instance ${name}`);
  const engine = await nodeEngine(s, inst.node);
  const at = new Date().toISOString();
  const dump = await dumpOnNode(engine, inst);
  await fsp.mkdir(snapshotDir(), { recursive: true, mode: 0o700 });
  const file = path.join(snapshotDir(), `${name}-${at.replace(/[:.]/g, "-")}.tar.gz`);
  const { stream, done } = await readInstanceFolder(engine, name);
  try {
    const extract = tar.extract();
    const pack = tar.pack();
    const liveDb = `${name}/data/db/`;
    extract.on("entry", (h, body, next) => {
      if (h.name.startsWith(liveDb) && h.name.length > liveDb.length) {
        body.resume();
        body.on("end", next);
        return;
      }
      body.pipe(pack.entry(h, next));
    });
    extract.on("finish", () => {
      pack.entry({ name: `${name}/snapshot/${snapshotDump(dbEngineOf(inst))}`, mode: 0o600, mtime: new Date(at) }, dump);
      pack.finalize();
    });
    await Promise.all([pipeline(stream, extract), pipeline(pack, createGzip({ level: 1 }), fs.createWriteStream(`${file}.partial`, { mode: 0o600 }))]);
    await fsp.rename(`${file}.partial`, file);
  } catch (e) {
    // The timer retries each minute: a failed one must not leave its partial file behind each time.
    await fsp.rm(`${file}.partial`, { force: true });
    throw e;
  } finally {
    await done();
  }
  const bytes = (await fsp.stat(file)).size;
  await updateState((st) => {
    const prev = st.instances[name]?.snapshot?.file;
    if (st.instances[name]) st.instances[name].snapshot = { file, at, bytes };
    if (prev && prev !== file) fs.rmSync(prev, { force: true });
  });
  log(`${name}: snapshot ${path.basename(file)} (${(bytes / 1e6).toFixed(1)} MB)`);
  return { file, bytes, at };
}

/** Copy the instance folder from one node to another through both engines' archive APIs. */
async function liveCopy(s: ClusterState, from: string, to: string, name: string): Promise<void> {
  const src = await nodeEngine(s, from);
  const dst = await nodeEngine(s, to);
  await runOn(dst, HELPER_IMAGE, NODE_INSTANCES, ["rm", "-rf", `/mnt/${name}`]).catch(() => runOn(dst, HELPER_IMAGE, "/", ["mkdir", "-p", `/mnt${NODE_INSTANCES}`]));
  const { stream, done } = await readFolder(src, HELPER_IMAGE, NODE_INSTANCES, name);
  try {
    const pass = new PassThrough();
    stream.pipe(pass);
    await writeFolder(dst, HELPER_IMAGE, NODE_INSTANCES, pass);
  } finally {
    await done();
  }
}

async function restoreSnapshot(s: ClusterState, inst: ClusterInstance, to: string, spec: InstanceSpec | null, log: (l: string) => void): Promise<InstanceSpec> {
  if (!inst.snapshot) throw new NotFoundError(`${inst.name} has no snapshot to restore from`);
  const dst = await nodeEngine(s, to);
  await runOn(dst, HELPER_IMAGE, "/", ["mkdir", "-p", `/mnt${NODE_INSTANCES}`]);
  await runOn(dst, HELPER_IMAGE, NODE_INSTANCES, ["rm", "-rf", `/mnt/${inst.name}`]);
  await writeFolder(dst, HELPER_IMAGE, NODE_INSTANCES, fs.createReadStream(inst.snapshot.file) as unknown as Readable);
  const sp = spec ?? (await readSpec(s, to, inst.name));
  const moved = { ...inst, node: to };
  // The db first, on its empty data folder; the dump goes in before the site starts.
  await deployStack(s, moved, sp, ["db"]);
  // initdb on a busy machine takes minutes.
  const deadline = Date.now() + 420_000;
  let db: string | null = null;
  for (;;) {
    db = await taskContainer(dst, serviceName(inst.name, "db"));
    if (db && (await execOn(dst, db, readyCommand(dbEngineOf(inst)), { check: false })).exitCode === 0) break;
    if (Date.now() > deadline) throw new EngineError(`${inst.name}'s database did not start on ${to}`);
    await sleep(1000);
  }
  const dumpRead = await readFolder(dst, HELPER_IMAGE, NODE_INSTANCES, `${inst.name}/snapshot/${snapshotDump(dbEngineOf(inst))}`);
  const chunks: Buffer[] = [];
  try {
    const extract = tar.extract();
    extract.on("entry", (_h, body, next) => {
      body.on("data", (d: unknown) => {
        chunks.push(d as Buffer);
      });
      body.on("end", next);
    });
    await pipeline(dumpRead.stream, extract);
  } finally {
    await dumpRead.done();
  }
  const steps = restoreSteps(dbEngineOf(inst));
  for (const [i, st] of steps.entries()) {
    await execOn(dst, db, st.cmd, { user: st.user, stdin: i === steps.length - 1 ? Buffer.concat(chunks) : st.stdin, what: st.what });
  }
  log(`${inst.name}: database restored on ${to} from the snapshot of ${inst.snapshot.at}`);
  return sp;
}

export interface MoveResult {
  name: string;
  from: string;
  to: string;
  how: "live" | "snapshot";
  seconds: number;
  snapshotAt?: string;
}

/**
 * Move an instance: stop it, bring its data to `to` (a live copy of the folder, or the latest
 * snapshot when the old node is gone), repin the stack there. The proxy and port never change.
 */
export function moveInstance(name: string, to: string, how: "live" | "snapshot", log: (l: string) => void): Promise<MoveResult> {
  return withInstanceLock(name, () => relocate(name, to, how, log));
}

async function relocate(name: string, to: string, how: "live" | "snapshot", log: (l: string) => void): Promise<MoveResult> {
  const started = Date.now();
  const s = await requireState();
  const inst = s.instances[name];
  if (!inst) throw new NotFoundError(`no cluster instance ${name}`);
  if (inst.node === to) throw new AppError("validation", `${name} is already on ${to}`);
  const mgr = await managerEngine(s);
  if (!(await listNodes(mgr)).some((n) => n.hostname === to && n.state === "ready" && n.availability === "active")) {
    throw new ConflictError(`${to} is not a ready, active node`);
  }
  // The images the site needs go to the target before anything stops: a node that never ran this
  // stack (a MariaDB site's, say) lacks them and its tasks would wait on "No such image".
  const want = how === "live" ? imageRefs(await readSpec(s, inst.node, name)) : (inst.images ?? imageRefs(clusterSiteSpec(name, inst.db ? `${inst.db.engine}:${inst.db.version}` : undefined, inst.moodle)));
  await copyImages(localEngine(), await nodeEngine(s, to), want, log);
  let spec: InstanceSpec | null = null;
  try {
    await scale(mgr, name, 0);
    if (how === "live") {
      await waitStopped(s, inst.node, name);
      spec = await readSpec(s, inst.node, name);
      await liveCopy(s, inst.node, to, name);
      log(`${name}: data copied ${inst.node} → ${to}`);
    } else {
      spec = await restoreSnapshot(s, inst, to, null, log);
    }
    await deployStack(s, { ...inst, node: to }, spec, SERVICES);
    await updateState((st) => {
      if (st.instances[name]) st.instances[name].node = to;
    });
    await waitAnswer(inst.port, inst.moodle);
  } catch (e) {
    // A live move that fails leaves the old copy whole: run it again there rather than leave the
    // site down (on a node being drained its tasks wait until drainNode makes the node active again).
    if (how === "live") {
      log(`${name}: the move to ${to} failed (${(e as Error).message}); starting it again on ${inst.node}`);
      await updateState((st) => {
        if (st.instances[name]) st.instances[name].node = inst.node;
      }).catch(() => undefined);
      await (spec ? deployStack(s, inst, spec, SERVICES) : scale(mgr, name, 1)).catch((e2: unknown) => log(`${name}: restarting on ${inst.node} failed too: ${(e2 as Error).message}`));
    }
    throw e;
  }
  if (how === "live") {
    // The old copy goes only once the new one answers.
    await runOn(await nodeEngine(s, inst.node), HELPER_IMAGE, NODE_INSTANCES, ["rm", "-rf", `/mnt/${name}`]).catch(() => undefined);
  }
  const seconds = (Date.now() - started) / 1000;
  log(`${name}: answers again on 127.0.0.1:${inst.port} from ${to} (${seconds.toFixed(1)} s, ${how})`);
  return { name, from: inst.node, to, how, seconds, snapshotAt: how === "snapshot" ? inst.snapshot?.at : undefined };
}

/** The active, ready node (not `except`) holding the fewest instances. */
async function pickTarget(s: ClusterState, except: string): Promise<string> {
  const nodes = (await listNodes(await managerEngine(s))).filter((n) => n.hostname !== except && n.state === "ready" && n.availability === "active");
  if (!nodes.length) throw new ConflictError("no other ready, active node");
  const load = (h: string) => Object.values(s.instances).filter((i) => i.node === h).length;
  return nodes.sort((a, b) => load(a.hostname) - load(b.hostname))[0].hostname;
}

/** Drain: the swarm stops placing on the node; each of its instances moves by a live copy. */
export async function drainNode(node: string, log: (l: string) => void, step: Operation["step"] = inlineStep): Promise<{ node: string; moved: MoveResult[] }> {
  const s = await requireState();
  const mgr = await managerEngine(s);
  const held = Object.values(s.instances).filter((i) => i.node === node);
  // Refuse before draining when nothing could take its instances (a one-node cluster).
  if (held.length) await pickTarget(s, node);
  await step(`drain ${node}`, () => drainPlacement(mgr, node));
  const moved: MoveResult[] = [];
  for (const inst of held) {
    try {
      moved.push(await step(`move ${inst.name}`, async () => moveInstance(inst.name, await pickTarget(await requireState(), node), "live", log)));
    } catch (e) {
      // The failed move restarted the instance on this node: make it placeable again so it runs.
      await activateNode(mgr, node).catch(() => undefined);
      log(`${node}: active again, because ${inst.name} could not move (${(e as Error).message}); its other instances stay here`);
      throw e;
    }
  }
  return { node, moved };
}

/**
 * Recover only once the swarm itself sees the node down: a node it still counts as ready may be
 * alive (two copies of an instance writing), and its tasks' addresses stay in the overlay's DNS
 * (`web`, `db`) until the swarm gives the node up, so a restored copy could be sent to the dead one.
 */
async function waitNodeDown(mgr: Engine, node: string, log: (l: string) => void): Promise<void> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const n = (await listNodes(mgr)).find((x) => x.hostname === node);
    if (!n) throw new NotFoundError(`no node '${node}' in the swarm`);
    if (n.state === "down" || n.state === "unknown") return;
    if (Date.now() > deadline) throw new ConflictError(`${node} is still ${n.state} for the swarm: it is not lost (use drain)`);
    log(`${node}: the swarm still sees it ${n.state}; waiting for it to be down`);
    await sleep(5000);
  }
}

/** A lost node (its engine no longer answers): every instance it held, from its latest snapshot. */
export async function recoverNode(node: string, log: (l: string) => void, step: Operation["step"] = inlineStep): Promise<{ moved: MoveResult[]; lost: { name: string; lost: string }[] }> {
  const s = await requireState();
  await step(`wait until the swarm sees ${node} down`, async () => waitNodeDown(await managerEngine(s), node, log));
  const moved: MoveResult[] = [];
  const lost: { name: string; lost: string }[] = [];
  for (const inst of Object.values(s.instances).filter((i) => i.node === node)) {
    if (!inst.snapshot) {
      lost.push({ name: inst.name, lost: "everything: it has no snapshot" });
      log(`${inst.name}: no snapshot, nothing to recover from`);
      continue;
    }
    const m = await step(`restore ${inst.name}`, async () => moveInstance(inst.name, await pickTarget(await requireState(), node), "snapshot", log));
    lost.push({ name: inst.name, lost: `every change after ${inst.snapshot.at} (database and moodledata)` });
    moved.push(m);
  }
  return { moved, lost };
}

export function removeClusterInstance(name: string, log: (l: string) => void): Promise<void> {
  return withInstanceLock(name, () => removeUnlocked(name, log));
}

async function removeUnlocked(name: string, log: (l: string) => void): Promise<void> {
  const s = await requireState();
  const inst = s.instances[name];
  const mgr = await managerEngine(s);
  for (const svc of STACK_SERVICES) await mgr.getService(serviceName(name, svc)).remove().catch(() => undefined);
  await mgr.getService(`mdind-place-${name}`).remove().catch(() => undefined);
  if (inst) {
    await waitStopped(s, inst.node, name).catch(() => undefined);
    // The proxy's task on the manager holds the port and the overlay until it is gone: the next
    // create would meet both (an overlay removed while attached is refused and stays behind).
    await waitStopped(s, s.manager, name, { proxyToo: true }).catch(() => undefined);
    await mgr.getNetwork(overlayName(inst.n)).remove().catch(() => undefined);
    await mgr.getConfig(`mdind-${name}-proxy-${inst.port}`).remove().catch(() => undefined);
    await runOn(await nodeEngine(s, inst.node), HELPER_IMAGE, NODE_INSTANCES, ["rm", "-rf", `/mnt/${name}`]).catch(() => undefined);
    if (inst.snapshot) await fsp.rm(inst.snapshot.file, { force: true });
  }
  await updateState((st) => {
    delete st.instances[name];
  });
  log(`${name} removed`);
}
