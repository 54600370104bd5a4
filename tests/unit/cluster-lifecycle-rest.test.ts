import { beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { tempClusterHome } from "../helpers/cluster-home";

/**
 * The routes for create, start, move, remove and recover, called through their real handlers (a
 * bearer token in a temp home) with hostile payloads: path traversal, shell metacharacters,
 * oversize, wrong types, unknown fields. Each answers 4xx before any operation starts and without
 * reaching the service layer, which is stubbed; a good request answers 202 with the operation.
 */
tempClusterHome("mdind-cluster-life-rest-", { web1: { name: "web1", n: 100, port: 8000, node: "t-node1" } });

const NODES = [
  { id: "id1", hostname: "t-node1", state: "ready", availability: "active" },
  { id: "id2", hostname: "t-node2", state: "ready", availability: "active" },
  { id: "id3", hostname: "t-node3", state: "down", availability: "active" },
];
const svc = vi.hoisted(() => ({ create: vi.fn(), start: vi.fn(), move: vi.fn(), remove: vi.fn(), recover: vi.fn() }));
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
vi.mock("../../services/cluster/instances", async (orig) => ({
  ...(await orig<object>()),
  createClusterInstance: svc.create.mockResolvedValue({ name: "web9", n: 101, port: 8001, node: "t-node2", seconds: 1 }),
  startClusterInstance: svc.start.mockResolvedValue({ name: "web1", n: 100, port: 8000, node: "t-node1", seconds: 1 }),
  moveInstance: svc.move.mockResolvedValue({ name: "web1", from: "t-node1", to: "t-node2", how: "live", seconds: 1 }),
  removeClusterInstance: svc.remove.mockResolvedValue(undefined),
  recoverNode: svc.recover.mockResolvedValue({ moved: [], lost: [] }),
}));

let token = "";
beforeAll(async () => {
  const { createToken } = await import("../../services/auth/store");
  token = (await createToken("cluster-test")).token;
});
beforeEach(() => Object.values(svc).forEach((f) => f.mockClear()));

type Handler = (req: Request, ctx: { params: Promise<Record<string, string>> }) => Promise<Response>;
const routes = {
  create: async () => (await import("../../app/api/v1/cluster/instances/route")).POST as unknown as Handler,
  remove: async () => (await import("../../app/api/v1/cluster/instances/[name]/route")).DELETE as unknown as Handler,
  start: async () => (await import("../../app/api/v1/cluster/instances/[name]/start/route")).POST as unknown as Handler,
  move: async () => (await import("../../app/api/v1/cluster/instances/[name]/move/route")).POST as unknown as Handler,
  recover: async () => (await import("../../app/api/v1/cluster/nodes/[node]/recover/route")).POST as unknown as Handler,
};

/** One request through a real handler; `body` a value is sent as JSON, a string as it is. */
async function call(which: keyof typeof routes, params: Record<string, string>, body?: unknown, opts: { method?: string; type?: string } = {}) {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers["content-type"] = opts.type ?? "application/json";
  const req = new Request("http://127.0.0.1:7800/api/v1/cluster/x", {
    method: opts.method ?? (which === "remove" ? "DELETE" : "POST"),
    headers,
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const res = await (await routes[which]())(req, { params: Promise.resolve(params) });
  return { status: res.status, body: (await res.json()) as { error?: { kind: string; field?: string }; operation?: string } };
}

const serviceCalls = () => Object.values(svc).reduce((n, f) => n + f.mock.calls.length, 0);

const HOSTILE_NAMES = ["..", "../etc", "a/b", "web1;rm -rf /", "$(id)", "`id`", "web1\n", "web1\u0000", "Web1", "-web", "a".repeat(33), "x".repeat(100_000), " web1", "wéb1"];
const HOSTILE_NODES = ["..", "../etc", "a/b", "node;rm -rf /", "$(id)", "`id`", "n|id", "node\n", "-node", "a b", "x".repeat(254), "nöde"];
const WRONG_TYPES: unknown[] = [null, 7, true, ["web9"], { $gt: "" }];

describe("hostile payloads: 4xx, nothing started", () => {
  it("POST /cluster/instances: names, nodes, types, unknown fields, non-JSON, oversize", async () => {
    const bodies: unknown[] = [
      ...HOSTILE_NAMES.map((name) => ({ name })),
      ...HOSTILE_NODES.map((node) => ({ name: "web9", node })),
      ...WRONG_TYPES.map((name) => ({ name })),
      ...WRONG_TYPES.map((node) => ({ name: "web9", node })),
      { name: "web9", node: "t-node2", image: "evil" }, { name: "web9", archive: "/etc/passwd" }, '{"name":"web9","__proto__":{"node":"t-node2"}}',
      {}, [], '"web9"', null,
      // The database: the create schema's rule, then the version table (postgres 16 is no fixture version).
      ...["mariadb;id", "$(id)", "sqlite", "postgres:16", "mariadb:10.11;x", "postgres:".padEnd(40, "1"), 7, null, ["mariadb"]].map((db) => ({ name: "web9", db })),
    ];
    for (const b of bodies) {
      const r = await call("create", {}, b);
      expect(r.status, JSON.stringify(b)?.slice(0, 80)).toBe(422);
      expect(r.body.error?.kind).toBe("validation");
    }
    expect((await call("create", {}, "{not json")).status).toBe(422);
    expect((await call("create", {}, "name=web9", { type: "text/plain" })).status).toBe(415);
    expect((await call("create", {}, JSON.stringify({ name: "web9", pad: "x".repeat(1024 * 1024 + 1) }))).status).toBe(413);
    expect(serviceCalls()).toBe(0);
  });

  it("[name] in the path of start, move and DELETE", async () => {
    for (const name of HOSTILE_NAMES) {
      for (const which of ["start", "remove", "move"] as const) {
        const r = await call(which, { name }, which === "move" ? { to: "t-node2" } : undefined);
        expect(r.status, `${which} ${JSON.stringify(name).slice(0, 40)}`).toBe(422);
      }
    }
    expect(serviceCalls()).toBe(0);
  });

  it("the move body: {to, from?} only, by the node rule and live or snapshot", async () => {
    const bodies: unknown[] = [
      ...HOSTILE_NODES.map((to) => ({ to })),
      ...WRONG_TYPES.map((to) => ({ to })),
      { to: "t-node2", from: "rsync" }, { to: "t-node2", from: "live; rm -rf /" }, { to: "t-node2", from: ["live"] }, { to: "t-node2", from: 1 },
      { to: "t-node2", how: "live" }, { to: "t-node2", node: "t-node1" }, {}, [], '"t-node2"',
    ];
    for (const b of bodies) expect((await call("move", { name: "web1" }, b)).status, JSON.stringify(b).slice(0, 80)).toBe(422);
    expect(serviceCalls()).toBe(0);
  });

  it("[node] in the path of recover", async () => {
    for (const node of HOSTILE_NODES) expect((await call("recover", { node })).status, JSON.stringify(node).slice(0, 40)).toBe(422);
    expect(serviceCalls()).toBe(0);
  });

  it("no credentials: 401 on every new route", async () => {
    const bare = (method: string) => new Request("http://127.0.0.1:7800/api/v1/cluster/x", { method });
    for (const which of Object.keys(routes) as (keyof typeof routes)[]) {
      const res = await (await routes[which]())(bare(which === "remove" ? "DELETE" : "POST"), { params: Promise.resolve({ name: "web1", node: "t-node3" }) });
      expect(res.status, which).toBe(401);
    }
    expect(serviceCalls()).toBe(0);
  });
});

describe("404 and 409 before the operation, 202 when it starts", () => {
  it("answers what cannot begin at once", async () => {
    expect((await call("create", {}, { name: "web1" })).status).toBe(409);
    expect((await call("create", {}, { name: "web9", node: "nosuch" })).status).toBe(404);
    expect((await call("create", {}, { name: "web9", node: "t-node3" })).status).toBe(409);
    expect((await call("start", { name: "nope" })).status).toBe(404);
    expect((await call("remove", { name: "nope" })).status).toBe(404);
    expect((await call("move", { name: "nope" }, { to: "t-node2" })).status).toBe(404);
    expect((await call("move", { name: "web1" }, { to: "nosuch" })).status).toBe(404);
    expect((await call("move", { name: "web1" }, { to: "t-node1" })).status).toBe(409);
    expect((await call("move", { name: "web1" }, { to: "t-node2", from: "snapshot" })).status).toBe(404);
    expect((await call("recover", { node: "nosuch" })).status).toBe(404);
    // The default Moodle is the library's newest; an empty library is said before anything starts.
    const none = await call("create", {}, { name: "web9" });
    expect(none.status).toBe(422);
    expect(JSON.stringify(none.body)).toMatch(/No Moodle build/);
    expect((await call("create", {}, { name: "web9", moodle: "../../etc" })).status).toBe(422);
    expect(serviceCalls()).toBe(0);
  });

  it("202 with the operation id, and the service called with the validated input", async () => {
    const op = /^[a-z0-9]+-[0-9a-f]{8}$/;
    const c = await call("create", {}, { name: "web9", node: "id2", moodle: "fixture" });
    expect(c).toMatchObject({ status: 202, body: { name: "web9", node: "id2", operation: expect.stringMatching(op) } });
    expect(svc.create).toHaveBeenCalledWith("web9", { node: "t-node2", moodle: "fixture" }, expect.any(Function));
    expect((await call("create", {}, { name: "web8", db: "mariadb:10.11", moodle: "fixture" })).status).toBe(202);
    await new Promise((r) => setTimeout(r, 20));
    expect(svc.create).toHaveBeenCalledWith("web8", { db: "mariadb:10.11", moodle: "fixture" }, expect.any(Function));
    const m = await call("move", { name: "web1" }, { to: "t-node2" });
    expect(m).toMatchObject({ status: 202, body: { name: "web1", to: "t-node2", from: "live", operation: expect.stringMatching(op) } });
    expect(svc.move).toHaveBeenCalledWith("web1", "t-node2", "live", expect.any(Function));
    await new Promise((r) => setTimeout(r, 20));
    expect(await call("start", { name: "web1" })).toMatchObject({ status: 202, body: { name: "web1", operation: expect.stringMatching(op) } });
    const rec = await call("recover", { node: "t-node3" });
    expect(rec).toMatchObject({ status: 202, body: { node: "t-node3", channel: "_cluster", operation: expect.stringMatching(op) } });
    expect(svc.recover).toHaveBeenCalledWith("t-node3", expect.any(Function), expect.any(Function));
    await new Promise((r) => setTimeout(r, 20));
    expect(svc.start).toHaveBeenCalledWith("web1");
    const rm = await call("remove", { name: "web1" });
    expect(rm.status).toBe(202);
    expect(svc.remove).toHaveBeenCalledWith("web1", expect.any(Function));
  });
});
