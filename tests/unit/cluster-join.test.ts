import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { runInHost } from "../../lib/cluster/engine-io";
import { containerSpec, defaultHostOptions, validateHostOptions } from "../../lib/host/container";
import type { Engine } from "../../lib/cluster/swarm";
import { addNode, joinInstructions, nodeCertificates, validateAddress, validateApiPort, validateNodeName } from "../../services/cluster/join";
import { writeState } from "../../services/cluster/state";

describe("a cluster of real machines: input", () => {
  it("addresses are an IPv4 address or a host name, nothing else", () => {
    for (const ok of ["10.0.0.5", "192.168.1.20", "node2", "node2.lan", "a-b.example.org"]) expect(validateAddress(ok)).toBe(ok);
    for (const bad of ["", "256.1.1.1", "10.0.0", "1.2.3.4.5", "-oProxyCommand=x", "a b", "host;id", "$(id)", "http://x", "x:2376", "../etc", "a\nb", "x".repeat(70)]) {
      expect(() => validateAddress(bad)).toThrow(/address/);
    }
  });

  it("node names are swarm hostnames; API ports are 1–65535", () => {
    expect(validateNodeName("node-2.lan")).toBe("node-2.lan");
    for (const bad of ["", "-x", "a/b", "../x", "a b", "a;b", "x".repeat(64), "a\u0000b"]) expect(() => validateNodeName(bad)).toThrow(/node name/);
    expect(validateApiPort(2376)).toBe(2376);
    for (const bad of [0, -1, 65536, 2.5, Number.NaN]) expect(() => validateApiPort(bad)).toThrow(/port/);
  });

  it("environment handed to a node's CLI must be KEY=VALUE settings: an option or a command is refused before any container", async () => {
    const engine = { createContainer: () => Promise.reject(new Error("no container may be made")) } as unknown as Engine;
    for (const bad of ["--rm", "node", "=x", "lower=x", "A B=x", "-u=x"]) {
      await expect(runInHost(engine, "img", ["true"], { env: [bad] })).rejects.toThrow(/not an environment setting/);
    }
  });
});

describe("a machine's host container for a cluster", () => {
  const SWARM = ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp", "1025/tcp"];
  it("publishes the swarm's ports and the mail catcher's one to one with MDIND_CLUSTER_NODE=1, and only then", () => {
    const base = defaultHostOptions("/x", true);
    const on = containerSpec({ ...base, env: { ...base.env, MDIND_CLUSTER_NODE: "1", MDIND_DOCKER_TLS: "1" } }, "capabilities");
    for (const p of SWARM) expect(on.HostConfig?.PortBindings?.[p]).toEqual([{ HostIp: "0.0.0.0", HostPort: p.split("/")[0] }]);
    expect(on.HostConfig?.PortBindings?.["2376/tcp"]).toBeTruthy();
    const off = containerSpec({ ...base, env: {}, hostname: undefined }, "capabilities");
    expect(off.Hostname).toBeUndefined();
    expect(containerSpec({ ...base, hostname: "school-a" }, "capabilities").Hostname).toBe("school-a");
    for (const p of [...SWARM, "2376/tcp"]) expect(off.HostConfig?.PortBindings?.[p]).toBeUndefined();
  });
});

describe("the host container's hostname (a cluster node's name)", () => {
  const saved = process.env.MDIND_HOST_HOSTNAME;
  afterEach(() => {
    if (saved === undefined) delete process.env.MDIND_HOST_HOSTNAME;
    else process.env.MDIND_HOST_HOSTNAME = saved;
  });
  it("is the machine's by default, MDIND_HOST_HOSTNAME when set, and a bad one is refused", () => {
    delete process.env.MDIND_HOST_HOSTNAME;
    expect(defaultHostOptions("/x").hostname ?? "").toMatch(/^([a-z0-9][a-z0-9-]{0,62})?$/);
    process.env.MDIND_HOST_HOSTNAME = "lab-2";
    expect(defaultHostOptions("/x").hostname).toBe("lab-2");
    for (const bad of ["", "-x", "a b", "a;id", "A_B", "x".repeat(64), "a.b"]) {
      process.env.MDIND_HOST_HOSTNAME = bad;
      expect(() => validateHostOptions(defaultHostOptions("/x")), bad).toThrow(/MDIND_HOST_HOSTNAME/);
    }
  });
});

describe("a cluster of real machines: refusals on a `cluster up` record", () => {
  let home = "";
  const saved = process.env.MDIND_HOME;
  beforeEach(async () => {
    home = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-join-"));
    process.env.MDIND_HOME = home;
    await fs.mkdir(path.join(home, "cluster"), { recursive: true });
    await writeState({ name: "t", network: "t-cluster", subnet: "10.213.7.0/24", portMin: 8000, portMax: 8001, nodes: [{ name: "t-node1", index: 1, ip: "10.213.7.11", apiPort: 1 }], manager: "t-node1", instances: {} });
  });
  afterEach(async () => {
    process.env.MDIND_HOME = saved;
    await fs.rm(home, { recursive: true, force: true });
  });

  it("certs and add belong to clusters of real machines", async () => {
    await expect(nodeCertificates("n2", "10.0.0.2")).rejects.toThrow(/cluster up/);
    await expect(addNode("n2", "10.0.0.2", 2376, () => undefined)).rejects.toThrow(/cluster up/);
    await expect(nodeCertificates("../n2", "10.0.0.2")).rejects.toThrow(/node name/);
    // Its nodes are containers on this machine: no join command to show.
    expect(await joinInstructions()).toBeNull();
  });
});
