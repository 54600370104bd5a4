import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

/**
 * The cluster's REST inputs (node in the path, instance names, the clone body) against hostile
 * payloads, and the answers that must come before any engine is asked: no cluster, no such
 * instance, a name already taken. No Docker: the checks run on a cluster record in a temp home.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-cluster-rest-"));
process.env.MDIND_HOME = home;
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

const HOSTILE_NODES: unknown[] = [
  "", " ", "-node1", "node1-", "--force", "a b", "a/b", "../etc", "..", ".", "a..b", ".a", "a.", "node;rm -rf /", "$(id)", "`id`",
  "node\n", "node\u0000", "nöde", "node%2F", "a".repeat(64), `${"a".repeat(63)}.`.repeat(5), "x".repeat(254), null, undefined, 42, {}, ["node1"],
];

describe("node references from outside", () => {
  it("take hostnames and swarm ids only", async () => {
    const { validateNodeRef } = await import("../../lib/cluster/swarm");
    const { nodeParam } = await import("../../edge/http/params");
    for (const ok of ["mdind-node1", "node-1.example.com", "Worker7", "abcdefghijklmnopqrstuvwxy", "a", `${"a".repeat(63)}.b`]) {
      expect(validateNodeRef(ok)).toBe(ok);
      expect(nodeParam({ node: ok })).toBe(ok);
    }
    for (const bad of HOSTILE_NODES) {
      expect(() => validateNodeRef(bad), JSON.stringify(bad)).toThrow(/node:/);
      expect(() => nodeParam({ node: bad as string })).toThrow(/node:/);
    }
  });

  it("stay linear on long near-misses (no catastrophic backtracking)", async () => {
    const { NODE_REF_RE } = await import("../../lib/cluster/swarm");
    const started = Date.now();
    for (const s of [`${"a-".repeat(126)}-`, `${"a.".repeat(126)}-`, `${"a".repeat(61)}-`.repeat(4)]) expect(NODE_REF_RE.test(s)).toBe(false);
    expect(Date.now() - started).toBeLessThan(200);
  });
});

describe("the cluster clone body", () => {
  it("is {to: an instance name} and nothing else", async () => {
    const { cloneBodySchema } = await import("../../edge/http/schemas");
    expect(cloneBodySchema.parse({ to: "web2" })).toEqual({ to: "web2" });
    for (const bad of [{}, { to: "" }, { to: "A" }, { to: "../x" }, { to: "x;y" }, { to: "a".repeat(33) }, { to: "web2", node: "n1" }, { to: ["web2"] }, { to: 7 }, null, "web2"]) {
      expect(cloneBodySchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });
});

describe("cluster operations refuse at once, before any operation starts", () => {
  const writeState = (instances: Record<string, unknown>) => {
    fs.mkdirSync(path.join(home, "cluster"), { recursive: true });
    const s = { name: "t", network: "t-cluster", subnet: "10.213.7.0/24", portMin: 8000, portMax: 8009, nodes: [], manager: "t-node1", instances };
    fs.writeFileSync(path.join(home, "cluster", "state.json"), JSON.stringify(s));
  };

  it("without a cluster: not found", async () => {
    const ops = await import("../../services/cluster/ops");
    await expect(ops.snapshotClusterOp("web1")).rejects.toMatchObject({ kind: "not_found" });
    await expect(ops.cloneClusterOp("web1", "web2")).rejects.toMatchObject({ kind: "not_found" });
    await expect(ops.drainNodeOp("t-node2")).rejects.toMatchObject({ kind: "not_found" });
  });

  it("the Instances page's list of cluster sites: without a cluster, empty (most hosts have none), not an error", async () => {
    const { listClusterSites } = await import("../../services/cluster/info");
    expect(await listClusterSites()).toEqual({ cluster: null, sites: [] });
    const { GET } = await import("../../app/api/v1/cluster/instances/route");
    expect((await GET(new Request("http://127.0.0.1/api/v1/cluster/instances"), { params: Promise.resolve({}) } as never)).status).toBe(401);
  });

  it("hostile names and nodes: a validation error, never the engine", async () => {
    const ops = await import("../../services/cluster/ops");
    writeState({});
    for (const bad of ["../x", "A", "x;y", ""]) {
      await expect(ops.snapshotClusterOp(bad)).rejects.toMatchObject({ kind: "validation" });
      await expect(ops.exportClusterForDownload(bad, "0".repeat(32))).rejects.toMatchObject({ kind: "validation" });
    }
    for (const bad of HOSTILE_NODES) {
      await expect(ops.drainNodeOp(bad as string)).rejects.toMatchObject({ kind: "validation" });
      await expect(ops.activateNodeOp(bad as string)).rejects.toMatchObject({ kind: "validation" });
    }
  });

  it("an unknown source is not found; a taken new name is a conflict", async () => {
    const ops = await import("../../services/cluster/ops");
    writeState({ web1: { name: "web1", n: 100, port: 8000, node: "t-node1" }, web2: { name: "web2", n: 101, port: 8001, node: "t-node2" } });
    await expect(ops.cloneClusterOp("nope", "web3")).rejects.toMatchObject({ kind: "not_found" });
    await expect(ops.cloneClusterOp("web1", "web2")).rejects.toMatchObject({ kind: "conflict" });
    await expect(ops.cloneClusterOp("web1", "Bad Name")).rejects.toMatchObject({ kind: "validation" });
  });
});

describe("the edge helpers the cluster routes share", () => {
  it("launchAnswer: 202 with the body and operation id, or the result with ?wait=1", async () => {
    const { launchAnswer } = await import("../../edge/http/launch");
    const { runOperation } = await import("../../lib/operations");
    const r = (await launchAnswer(new Request("http://x/a"), "cr-a", () => runOperation("cr-a", "t", async () => 7), { name: "cr-a" })) as Response;
    expect(r.status).toBe(202);
    expect(await r.json()).toMatchObject({ name: "cr-a", operation: expect.stringMatching(/^[a-z0-9]+-[0-9a-f]{8}$/) });
    expect(await launchAnswer(new Request("http://x/a?wait=1"), "cr-b", () => runOperation("cr-b", "t", async () => 7), {})).toBe(7);
  });

  it("packedDownload: streams the packed file with its size, and leaves no folder when packing fails", async () => {
    const { packedDownload } = await import("../../edge/http/streams");
    let dir = "";
    const r = await packedDownload("web1", async (file) => {
      dir = path.dirname(file);
      fs.writeFileSync(file, "archive");
      return { bytes: 7 };
    });
    expect(r.headers.get("content-disposition")).toBe('attachment; filename="web1.moodle-dind.tar.gz"');
    expect(r.headers.get("content-length")).toBe("7");
    expect(await r.text()).toBe("archive");
    await new Promise((ok) => setTimeout(ok, 50));
    expect(fs.existsSync(dir)).toBe(false);
    await expect(packedDownload("web1", async (file) => {
      dir = path.dirname(file);
      throw new Error("node gone");
    })).rejects.toThrow("node gone");
    expect(fs.existsSync(dir)).toBe(false);
  });
});
