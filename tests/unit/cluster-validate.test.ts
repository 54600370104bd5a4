import { describe, expect, it } from "vitest";
import { parseJoin } from "../../lib/cluster/swarm";
import { validateClusterName } from "../../lib/cluster/nodes";
import { parseUpOptions } from "../../services/cluster/local";

const TOKEN = `SWMTKN-1-${"a".repeat(50)}-${"b".repeat(25)}`;

describe("cluster input validation", () => {
  it("join takes a swarm token and HOST[:PORT] only", () => {
    expect(parseJoin(TOKEN, "10.0.0.5")).toEqual({ token: TOKEN, manager: "10.0.0.5:2377" });
    expect(parseJoin(TOKEN, "mgr.example:2377").manager).toBe("mgr.example:2377");
    for (const bad of ["", "x", `${TOKEN};rm -rf /`, `${TOKEN}\n`, "SWMTKN-1-short-token", `--force ${TOKEN}`]) {
      expect(() => parseJoin(bad, "10.0.0.5")).toThrow(/join token/);
    }
    for (const bad of ["", "10.0.0.5:99999", "$(id):2377", "a b:2377", "host:22;ls", "-oProxyCommand=x:1", "http://x:2377"]) {
      expect(() => parseJoin(TOKEN, bad)).toThrow(/manager address/);
    }
  });

  it("cluster names, node counts, port windows and subnets are clamped", () => {
    expect(validateClusterName("mdind")).toBe("mdind");
    for (const bad of ["", "-x", "A", "a/b", "a;b", "x".repeat(40), "../etc"]) expect(() => validateClusterName(bad)).toThrow();
    expect(parseUpOptions({ nodes: 3, portMin: 8100, portMax: 8109 })).toMatchObject({ nodes: 3, portMin: 8100, portMax: 8109 });
    for (const nodes of [0, -1, 10, 2.5, Number.NaN]) expect(() => parseUpOptions({ nodes })).toThrow(/--nodes/);
    for (const [portMin, portMax] of [[80, 90], [9000, 8000], [8000, 70000], [1024, 5000]]) {
      expect(() => parseUpOptions({ nodes: 1, portMin, portMax })).toThrow(/ports/);
    }
    for (const subnet of ["172.20.5.0/24", "172.21.0.0/24", "8.8.8.0/24", "10.0.0.0/8", "10.1.2.3/24", "10.1.2.0/24;x"]) {
      expect(() => parseUpOptions({ nodes: 1, subnet })).toThrow(/subnet/);
    }
  });
});
