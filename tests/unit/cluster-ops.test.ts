import { describe, expect, it, vi } from "vitest";
import { tempClusterHome } from "../helpers/cluster-home";

/**
 * services/cluster/ops.ts wiring, with the engine work stubbed: each verb runs as an operation on
 * the channel a single host's would use, its steps and log lines reach the channel's subscribers,
 * and the channel's lock refuses a second one. The cluster record is a file in a temp home.
 */
tempClusterHome("mdind-cluster-ops-", { web1: { name: "web1", n: 100, port: 8000, node: "t-node2" } });

const gate = { wait: Promise.resolve() };
vi.mock("../../services/cluster/state", async (orig) => ({ ...(await orig<object>()), managerEngine: async () => ({}) }));
vi.mock("../../lib/cluster/swarm", async (orig) => ({
  ...(await orig<object>()),
  findNode: async (_e: unknown, ref: string) => {
    if (ref !== "t-node2") throw Object.assign(new Error(`no swarm node '${ref}'`), { kind: "not_found" });
    return { id: "id2", hostname: "t-node2", availability: "active" };
  },
  activateNode: async (_e: unknown, id: string) => ({ id, hostname: "t-node2", availability: "active" }),
}));
vi.mock("../../services/cluster/export", async (orig) => ({
  ...(await orig<object>()),
  cloneClusterInstance: async (from: string, to: string, log: (l: string) => void, step: (n: string, f: () => Promise<unknown>) => Promise<unknown>) => {
    await step(`export ${from}`, async () => log(`${from}: dumped`));
    await step(`create ${to}`, async () => undefined);
    return { name: to, n: 101, port: 8001, node: "t-node1", seconds: 1 };
  },
}));
vi.mock("../../services/cluster/instances", async (orig) => ({
  ...(await orig<object>()),
  drainNode: async (node: string, log: (l: string) => void, step: (n: string, f: () => Promise<unknown>) => Promise<unknown>) => {
    await step(`drain ${node}`, async () => undefined);
    await step("move web1", () => gate.wait.then(() => log("web1: answers again")));
    return { node, moved: [] };
  },
}));

type Ev = { instance: string; op: string; type: string; step?: string; status?: string; message?: string };

async function recorded<T>(channel: string, fn: () => Promise<T>): Promise<{ out: T; events: Ev[] }> {
  const { subscribe } = await import("../../lib/operations");
  const events: Ev[] = [];
  const off = subscribe(channel, (e) => events.push(e));
  try {
    return { out: await fn(), events };
  } finally {
    off();
  }
}

describe("cluster verbs as operations", () => {
  it("a clone runs on the new name's channel, with its steps and log lines", async () => {
    const { cloneClusterOp } = await import("../../services/cluster/ops");
    const { out, events } = await recorded("web9", () => cloneClusterOp("web1", "web9"));
    expect(out.name).toBe("web9");
    expect(events.map((e) => [e.type, e.step ?? null, e.status ?? null])).toEqual([
      ["start", null, null],
      ["step", "export web1", "running"],
      ["log", "export web1", null],
      ["step", "export web1", "done"],
      ["step", "create web9", "running"],
      ["step", "create web9", "done"],
      ["done", null, null],
    ]);
    expect(events.every((e) => e.op === "clone" && e.instance === "web9")).toBe(true);
  });

  it("a drain runs on _cluster and holds it: a second drain or an activate meanwhile is a conflict", async () => {
    const { drainNodeOp, activateNodeOp } = await import("../../services/cluster/ops");
    let open!: () => void;
    gate.wait = new Promise<void>((r) => (open = r));
    const rec = recorded("_cluster", () => drainNodeOp("t-node2"));
    await new Promise((r) => setTimeout(r, 50));
    await expect(drainNodeOp("t-node2")).rejects.toMatchObject({ kind: "conflict", message: expect.stringMatching(/^the cluster is busy/) });
    await expect(activateNodeOp("t-node2")).rejects.toMatchObject({ kind: "conflict" });
    open();
    const { events } = await rec;
    expect(events.filter((e) => e.type === "step" && e.status === "done").map((e) => e.step)).toEqual(["drain t-node2", "move web1"]);
    expect(events.at(-1)?.type).toBe("done");
    expect(await activateNodeOp("t-node2")).toMatchObject({ hostname: "t-node2", availability: "active" });
  });

  it("a node the swarm does not know is refused before any operation starts", async () => {
    const { drainNodeOp } = await import("../../services/cluster/ops");
    const { events } = await recorded("_cluster", () => drainNodeOp("t-node7").catch((e: Error) => e.message));
    expect(events).toEqual([]);
  });
});
