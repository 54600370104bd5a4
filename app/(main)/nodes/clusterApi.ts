import { api } from "../../_lib/api";
import type { NodeOverview } from "../../_lib/types";
import type { StartOp } from "../instances/[name]/ops";

/** The cluster's REST API; every action in the Nodes view is one call there (the CLI's `cluster` verbs). */
export const BASE = "/api/v1/cluster";
/** Drain, activate and recover run on one channel for all nodes (lib/operations.ts). */
export const NODES_CHANNEL = "_cluster";

/** Start a long action and hand its operation to the panel; a refusal (404, 409, 422) shows there at once. */
export async function post(path: string, label: string, channel: string, onStarted: StartOp, onDone: () => string, init: { method?: string; body?: unknown } = {}): Promise<void> {
  try {
    const r = await api<{ operation: string }>(path, { method: init.method ?? "POST", body: init.body });
    onStarted({ id: r.operation, label, channel, onDone });
  } catch (e) {
    onStarted({ id: null, label, channel, error: (e as Error).message });
  }
}

/** Where an instance can go: the swarm places tasks only on ready, active nodes (the ops refuse others with 409). */
export const placeable = (nodes: NodeOverview[]) => nodes.filter((n) => n.state === "ready" && n.availability === "active");
