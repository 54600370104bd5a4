import { beforeEach, describe, expect, it, vi } from "vitest";
import { tempClusterHome } from "../helpers/cluster-home";

/**
 * services/cluster/ops.ts for create, start, move, remove and recover, with the service layer
 * (services/cluster/instances.ts) and the swarm stubbed: each verb calls its service with the
 * right arguments on the right channel, and each refusal comes before any operation starts
 * (no event on any channel, the service never called). The cluster record is a temp-home file.
 */
tempClusterHome("mdind-cluster-life-", {
  web1: { name: "web1", n: 100, port: 8000, node: "t-node1", snapshot: { file: "/x/web1.tar.gz", at: "2026-11-30T00:00:00.000Z", bytes: 1 } },
  web2: { name: "web2", n: 101, port: 8001, node: "t-node2" },
});

const NODES = [
  { id: "id1", hostname: "t-node1", state: "ready", availability: "active" },
  { id: "id2", hostname: "t-node2", state: "ready", availability: "active" },
  { id: "id3", hostname: "t-node3", state: "down", availability: "active" },
  { id: "id4", hostname: "t-node4", state: "ready", availability: "drain" },
];
const svc = vi.hoisted(() => ({
  gate: { wait: Promise.resolve() },
  create: vi.fn(), start: vi.fn(), move: vi.fn(), remove: vi.fn(), recover: vi.fn(),
}));
vi.mock("../../services/cluster/state", async (orig) => ({ ...(await orig<object>()), managerEngine: async () => ({}) }));
vi.mock("../../lib/cluster/swarm", async (orig) => ({
  ...(await orig<object>()),
  findNode: async (_e: unknown, ref: string) => {
    const { NotFoundError } = await import("../../lib/errors");
    const n = NODES.find((x) => x.id === ref || x.hostname === ref);
    if (!n) throw new NotFoundError(`no swarm node '${ref}'`);
    return n;
  },
}));
type Log = (l: string) => void;
type Step = (n: string, f: () => Promise<unknown>) => Promise<unknown>;
vi.mock("../../services/cluster/instances", async (orig) => ({
  ...(await orig<object>()),
  createClusterInstance: svc.create.mockImplementation(async (name: string, opts: { node?: string }, log: Log) => {
    log(`${name}: placed`);
    return { name, n: 102, port: 8002, node: opts.node ?? "t-node2", seconds: 1 };
  }),
  startClusterInstance: svc.start.mockImplementation(async (name: string) => {
    await svc.gate.wait;
    return { name, n: 100, port: 8000, node: "t-node1", seconds: 1 };
  }),
  moveInstance: svc.move.mockImplementation(async (name: string, to: string, how: string, log: Log) => {
    log(`${name}: copied`);
    return { name, from: "t-node1", to, how, seconds: 1 };
  }),
  removeClusterInstance: svc.remove.mockImplementation(async (name: string, log: Log) => log(`${name} removed`)),
  recoverNode: svc.recover.mockImplementation(async (node: string, log: Log, step: Step) => {
    await step(`wait until the swarm sees ${node} down`, async () => undefined);
    await step("restore web9", async () => log("web9: restored"));
    return { moved: [], lost: [] };
  }),
}));

type Ev = { instance: string; op: string; type: string; step?: string; status?: string };

/** Every event on every channel while `fn` runs. */
async function recorded<T>(fn: () => Promise<T>): Promise<{ out: T | Error; events: Ev[] }> {
  const { subscribe } = await import("../../lib/operations");
  const events: Ev[] = [];
  const off = subscribe("*", (e) => events.push(e));
  try {
    return { out: await fn().catch((e: Error) => e), events };
  } finally {
    off();
  }
}

const ops = () => import("../../services/cluster/ops");
const calls = () => Object.values(svc).filter((f) => typeof f === "function").reduce((n, f) => n + (f as ReturnType<typeof vi.fn>).mock.calls.length, 0);
beforeEach(() => {
  for (const f of [svc.create, svc.start, svc.move, svc.remove, svc.recover]) f.mockClear();
});

describe("the verbs run their service on the right channel", () => {
  it("create: on the new name's channel; a node id becomes its hostname; no node leaves it to the scheduler", async () => {
    const o = await ops();
    const { out, events } = await recorded(() => o.createClusterOp("web9", "id2", undefined, "fixture"));
    expect(out).toMatchObject({ name: "web9", node: "t-node2" });
    expect(svc.create).toHaveBeenCalledWith("web9", { node: "t-node2", moodle: "fixture" }, expect.any(Function));
    expect(events.every((e) => e.instance === "web9" && e.op === "create")).toBe(true);
    expect(events.map((e) => e.type)).toEqual(["start", "step", "log", "step", "done"]);
    await o.createClusterOp("web8", undefined, undefined, "fixture");
    expect(svc.create).toHaveBeenLastCalledWith("web8", { node: undefined, moodle: "fixture" }, expect.any(Function));
  });

  it("start, move and remove: on the instance's channel", async () => {
    const o = await ops();
    const start = await recorded(() => o.startClusterOp("web1"));
    expect(svc.start).toHaveBeenCalledWith("web1");
    expect(start.events.every((e) => e.instance === "web1" && e.op === "start")).toBe(true);
    const move = await recorded(() => o.moveClusterOp("web1", "id2", "snapshot"));
    expect(svc.move).toHaveBeenCalledWith("web1", "t-node2", "snapshot", expect.any(Function));
    expect(move.events.every((e) => e.instance === "web1" && e.op === "move")).toBe(true);
    expect(move.events.some((e) => e.type === "log")).toBe(true);
    const rm = await recorded(() => o.removeClusterOp("web2"));
    expect(rm.out).toEqual({ name: "web2", removed: true });
    expect(svc.remove).toHaveBeenCalledWith("web2", expect.any(Function));
    expect(rm.events.every((e) => e.instance === "web2" && e.op === "remove")).toBe(true);
  });

  it("recover: on _cluster, with the service's steps", async () => {
    const o = await ops();
    const { events } = await recorded(() => o.recoverNodeOp("id3"));
    expect(svc.recover).toHaveBeenCalledWith("t-node3", expect.any(Function), expect.any(Function));
    expect(events.every((e) => e.instance === "_cluster" && e.op === "recover")).toBe(true);
    expect(events.filter((e) => e.status === "done").map((e) => e.step)).toEqual(["wait until the swarm sees t-node3 down", "restore web9"]);
  });

  it("a second operation on a busy instance is a conflict, and its service is not called", async () => {
    const o = await ops();
    let open!: () => void;
    svc.gate.wait = new Promise<void>((r) => (open = r));
    const running = o.startClusterOp("web1");
    await new Promise((r) => setTimeout(r, 50));
    await expect(o.moveClusterOp("web1", "t-node2", "live")).rejects.toMatchObject({ kind: "conflict", message: expect.stringMatching(/busy/) });
    await expect(o.removeClusterOp("web1")).rejects.toMatchObject({ kind: "conflict" });
    expect(svc.move).not.toHaveBeenCalled();
    expect(svc.remove).not.toHaveBeenCalled();
    open();
    await running;
  });
});

describe("refusals come before any operation starts", () => {
  const cases: [string, (o: Awaited<ReturnType<typeof ops>>) => Promise<unknown>, string][] = [
    // 422 first: a bad input is never looked up, even when the rest would also fail.
    ["create, bad name", (o) => o.createClusterOp("../x", "t-node2"), "validation"],
    ["create, bad node beside a taken name", (o) => o.createClusterOp("web1", "n;rm -rf /"), "validation"],
    ["create, taken name (before the node is looked up)", (o) => o.createClusterOp("web1", "nosuch"), "conflict"],
    ["create, hostile Moodle", (o) => o.createClusterOp("web9", undefined, undefined, "5.1;id"), "validation"],
    ["create, no Moodle in the library (the default: its newest)", (o) => o.createClusterOp("web9"), "validation"],
    ["create, a database the fixture's table refuses", (o) => o.createClusterOp("web9", undefined, "postgres:9", "fixture"), "validation"],
    ["create, unknown node", (o) => o.createClusterOp("web9", "nosuch"), "not_found"],
    ["create, node down", (o) => o.createClusterOp("web9", "t-node3"), "conflict"],
    ["create, node drained", (o) => o.createClusterOp("web9", "t-node4"), "conflict"],
    ["start, bad name", (o) => o.startClusterOp("Web1"), "validation"],
    ["start, unknown", (o) => o.startClusterOp("nope"), "not_found"],
    ["move, bad target beside an unknown instance", (o) => o.moveClusterOp("nope", "../etc", "live"), "validation"],
    ["move, bad way", (o) => o.moveClusterOp("web1", "t-node2", "rsync" as "live"), "validation"],
    ["move, unknown instance", (o) => o.moveClusterOp("nope", "t-node2", "live"), "not_found"],
    ["move, unknown node", (o) => o.moveClusterOp("web1", "nosuch", "live"), "not_found"],
    ["move, already there", (o) => o.moveClusterOp("web1", "id1", "live"), "conflict"],
    ["move, no snapshot", (o) => o.moveClusterOp("web2", "t-node1", "snapshot"), "not_found"],
    ["move, node down", (o) => o.moveClusterOp("web1", "t-node3", "live"), "conflict"],
    ["remove, bad name", (o) => o.removeClusterOp("x;y"), "validation"],
    ["remove, unknown", (o) => o.removeClusterOp("nope"), "not_found"],
    ["recover, bad node", (o) => o.recoverNodeOp("$(id)"), "validation"],
    ["recover, unknown node", (o) => o.recoverNodeOp("nosuch"), "not_found"],
  ];
  it.each(cases)("%s", async (_what, call, kind) => {
    const o = await ops();
    const { out, events } = await recorded(() => call(o));
    expect(out).toMatchObject({ kind });
    expect(events).toEqual([]);
    expect(calls()).toBe(0);
  });
});
