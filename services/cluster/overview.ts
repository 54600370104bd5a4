import type Docker from "dockerode";
import { execOn } from "../../lib/cluster/engine-io";
import { listNodes, type Engine, type NodeView } from "../../lib/cluster/swarm";
import { withDeadline } from "../../lib/deadline";
import { FIXTURE, releaseLabels } from "./builds";
import { listClusterInstances } from "./instances";
import { instanceOfTask } from "./stack";
import { managerEngine, nodeEngine, readState } from "./state";

/**
 * The dashboard's Nodes view: each swarm node's state, the instances whose data it holds (and where
 * their web task runs now), and its CPU, memory and disk, read from the node's own engine over
 * mutual TLS. A node that does not answer (down, or its engine stuck) is shown with the reason, and
 * never holds the others up: each node's reads run under one deadline.
 */
export interface NodeUsage {
  /** Sum over the node's running containers, % of one core. */
  cpuPercent: number;
  memBytes: number;
  containersRunning: number;
  /** The filesystem holding instance data on that node (df in one of its instance containers). */
  disk: { usedBytes: number; totalBytes: number } | null;
  /** Per instance with containers on this node: the sum over its db, app, web and cron tasks. */
  byInstance: Record<string, { cpuPercent: number; memBytes: number }>;
}

export interface NodeOverview extends NodeView {
  /** `node` holds the instance's data (a move's source); `snapshotAt` the latest snapshot a move or recover can restore. */
  instances: { name: string; port: number; node: string; moodle: string; release: string; running: boolean; webHere: boolean; snapshotAt: string | null; cpuPercent: number | null; memBytes: number | null }[];
  usage: NodeUsage | null;
  error: string | null;
}

export interface ClusterOverview {
  /** `machines`: a cluster of real machines (`cluster init`), else containers `cluster up` started here. */
  cluster: { name: string; manager: string; subnet: string; portMin: number; portMax: number; machines: boolean } | null;
  nodes: NodeOverview[];
}

const NODE_DEADLINE_MS = 8000;

interface Stats {
  cpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number; online_cpus?: number };
  precpu_stats: { cpu_usage: { total_usage: number }; system_cpu_usage?: number };
  memory_stats: { usage?: number; stats?: { inactive_file?: number; total_inactive_file?: number } };
}

/** One-shot stats as `docker stats` computes them: CPU % of one core, memory without page cache. */
export function usageOf(s: Stats): { cpuPercent: number; memBytes: number } {
  const cpuDelta = s.cpu_stats.cpu_usage.total_usage - s.precpu_stats.cpu_usage.total_usage;
  const sysDelta = (s.cpu_stats.system_cpu_usage ?? 0) - (s.precpu_stats.system_cpu_usage ?? 0);
  const cpus = s.cpu_stats.online_cpus ?? 1;
  const cpuPercent = cpuDelta > 0 && sysDelta > 0 ? (cpuDelta / sysDelta) * cpus * 100 : 0;
  const cache = s.memory_stats.stats?.total_inactive_file ?? s.memory_stats.stats?.inactive_file ?? 0;
  return { cpuPercent, memBytes: Math.max(0, (s.memory_stats.usage ?? 0) - cache) };
}

/** `df -P -B1 <path>` output → used and total bytes. */
export function parseDf(out: string): { usedBytes: number; totalBytes: number } | null {
  const line = out.trim().split("\n").at(-1)?.split(/\s+/);
  if (!line || line.length < 4) return null;
  const total = Number(line[1]);
  const used = Number(line[2]);
  return Number.isFinite(total) && Number.isFinite(used) && total > 0 ? { usedBytes: used, totalBytes: total } : null;
}

/** Sums per instance, for the containers that are task containers of an instance's services. */
export function sumByInstance(running: { Labels?: Record<string, string> }[], stats: { cpuPercent: number; memBytes: number }[]): NodeUsage["byInstance"] {
  // No prototype: an instance may be named "constructor".
  const out: NodeUsage["byInstance"] = Object.create(null) as NodeUsage["byInstance"];
  running.forEach((c, i) => {
    const name = instanceOfTask(c.Labels?.["com.docker.swarm.service.name"]);
    if (!name) return;
    const t = (out[name] ??= { cpuPercent: 0, memBytes: 0 });
    t.cpuPercent += stats[i].cpuPercent;
    t.memBytes += stats[i].memBytes;
  });
  return out;
}

async function nodeUsage(engine: Engine): Promise<NodeUsage> {
  const running = (await engine.listContainers({ filters: { status: ["running"] } })) as Docker.ContainerInfo[];
  const stats = await Promise.all(
    running.map((c) =>
      engine
        .getContainer(c.Id)
        .stats({ stream: false })
        .then((s) => usageOf(s as unknown as Stats))
        .catch(() => ({ cpuPercent: 0, memBytes: 0 })),
    ),
  );
  // Any instance's cron container sees the node's data filesystem at its moodledata mount.
  const cron = running.find((c) => c.Labels?.["com.docker.swarm.service.name"]?.endsWith("_cron"));
  const disk = cron
    ? await execOn(engine, cron.Id, ["df", "-P", "-B1", "/var/www/moodledata"], { check: false })
        .then((r) => parseDf(r.stdout.toString()))
        .catch(() => null)
    : null;
  return {
    cpuPercent: stats.reduce((a, s) => a + s.cpuPercent, 0),
    memBytes: stats.reduce((a, s) => a + s.memBytes, 0),
    containersRunning: running.length,
    disk,
    byInstance: sumByInstance(running, stats),
  };
}

export async function clusterOverview(): Promise<ClusterOverview> {
  const s = await readState();
  if (!s) return { cluster: null, nodes: [] };
  const mgr = await managerEngine(s);
  const [nodes, instances, release] = await Promise.all([listNodes(mgr), listClusterInstances(), releaseLabels()]);
  const out = await Promise.all(
    nodes.map(async (n): Promise<NodeOverview> => {
      let usage: NodeUsage | null = null;
      let error: string | null = null;
      if (n.state !== "ready") error = `node is ${n.state}`;
      else {
        try {
          usage = await withDeadline(NODE_DEADLINE_MS, async () => nodeUsage(await nodeEngine(s, n.hostname)));
        } catch (e) {
          error = `its engine: ${(e as Error).message}`;
        }
      }
      const mine = instances
        .filter((i) => i.node === n.hostname || i.webNode === n.hostname)
        .map((i) => {
          const u = usage && Object.hasOwn(usage.byInstance, i.name) ? usage.byInstance[i.name] : undefined;
          return { name: i.name, port: i.port, node: i.node, moodle: i.moodle ?? FIXTURE, release: release(i.moodle), running: i.running, webHere: i.webNode === n.hostname, snapshotAt: i.snapshot?.at ?? null, cpuPercent: u?.cpuPercent ?? null, memBytes: u?.memBytes ?? null };
        });
      return { ...n, instances: mine, usage, error };
    }),
  );
  return { cluster: { name: s.name, manager: s.manager, subnet: s.subnet, portMin: s.portMin, portMax: s.portMax, machines: !s.network }, nodes: out };
}
