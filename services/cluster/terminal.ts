import { taskContainer } from "../../lib/cluster/engine-io";
import type { Engine } from "../../lib/cluster/swarm";
import { withDeadline } from "../../lib/deadline";
import { AppError } from "../../lib/errors";
import { SERVICES, type Service } from "../../instances/stack";
import { serviceName } from "./stack";
import { nodeEngine, readState } from "./state";
import { readRecord } from "../../instances/store";

const hasLocalRecord = (name: string) => readRecord(name).then(() => true, () => false);

/**
 * Where a web terminal for an instance of a cluster started here runs: the running task container
 * of its service, on the node that holds its data (every service is constrained there), reached
 * through that node's engine over mutual TLS. Null when no cluster here has that instance, so the
 * caller falls back to a local instance (which also wins when both have the name). The shell then
 * runs under the same launcher and reaper as a local one (services/terminal), with the exec going
 * to that engine.
 */
export async function clusterShellTarget(name: string, service: Service): Promise<{ engine: Engine; container: string; node: string } | null> {
  // A local instance of the same name is the one its page means.
  if (await hasLocalRecord(name)) return null;
  const s = await readState().catch(() => null);
  const inst = s?.instances[name];
  if (!s || !inst) return null;
  const engine = await nodeEngine(s, inst.node);
  const container = await taskContainer(engine, serviceName(name, service));
  if (!container) throw new AppError("conflict", `${name}'s ${service} is not running on ${inst.node}; start the instance first`);
  return { engine, container, node: inst.node };
}

/** True when a cluster started here has an instance of that name (for checks before a terminal opens). */
export async function isClusterInstance(name: string): Promise<boolean> {
  const s = await readState().catch(() => null);
  return Boolean(s?.instances[name]);
}

const NODE_LIST_MS = 30_000;

/** One node's share of the start-up terminal sweep: its engine and the task containers to look in. */
export interface NodeTasks {
  node: string;
  engine: Engine | null;
  containers: string[];
  error: string | null;
}

/**
 * The running task containers of every instance of a cluster started here, by node: where a
 * SIGKILLed dashboard may have left remote terminal sessions (services/terminal/sweep.ts). A node
 * that does not answer is named with its error, never thrown: the sweep goes on with the others.
 */
export async function clusterTaskContainers(): Promise<NodeTasks[]> {
  const s = await readState().catch(() => null);
  if (!s) return [];
  const byNode = new Map<string, string[]>();
  for (const [name, inst] of Object.entries(s.instances)) byNode.set(inst.node, [...(byNode.get(inst.node) ?? []), name]);
  // Nodes side by side, each bounded: a node that hangs must not hold up the sweep of the others.
  return Promise.all(
    [...byNode].map(async ([node, names]): Promise<NodeTasks> => {
      try {
        return await withDeadline(NODE_LIST_MS, async () => {
          const engine = await nodeEngine(s, node);
          const containers: string[] = [];
          for (const name of names) {
            for (const svc of SERVICES) {
              const c = await taskContainer(engine, serviceName(name, svc));
              if (c) containers.push(c);
            }
          }
          return { node, engine, containers, error: null };
        });
      } catch (e) {
        return { node, engine: null, containers: [], error: e instanceof Error ? e.message : String(e) };
      }
    }),
  );
}
