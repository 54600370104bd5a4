import { describe, expect, it } from "vitest";
import { nFromAddress, nFromSubnet, pickN, serviceIp, subnetFor, networkName } from "../../networks/subnets";
import { pickPort } from "../../networks/ports";

describe("subnets", () => {
  it("maps N to its /24 and back", () => {
    for (const n of [1, 17, 254]) {
      expect(nFromSubnet(subnetFor(n))).toBe(n);
    }
    expect(networkName(7)).toBe("mdind-n7");
    expect(serviceIp(3, "db")).toBe("172.20.3.12");
  });
  it.each(["172.20.0.0/24", "172.20.255.0/24", "172.21.1.0/24", "172.20.1.0/16", "172.20.1.0/24 ", "x"])("rejects %j", (c) => {
    expect(nFromSubnet(c)).toBeNull();
  });
  it("maps a client address to its instance N", () => {
    expect(nFromAddress("172.20.9.11")).toBe(9);
    expect(nFromAddress("::ffff:172.20.9.11")).toBe(9);
    expect(nFromAddress("172.21.0.5")).toBeNull();
    expect(nFromAddress("10.0.0.1")).toBeNull();
  });
  it("picks the lowest free N and reuses a freed one", () => {
    expect(pickN(new Set())).toBe(1);
    expect(pickN(new Set([1, 2, 4]))).toBe(3);
    const used = new Set([1, 2, 3]);
    used.delete(2);
    expect(pickN(used)).toBe(2);
  });
  it("says the pool is full", () => {
    expect(pickN(new Set(Array.from({ length: 254 }, (_, i) => i + 1)))).toBeNull();
  });
});

describe("ports", () => {
  it("skips allocated and host-bound ports", async () => {
    const bound = new Set([8001]);
    expect(await pickPort(new Set([8000]), 8000, 8099, (p) => !bound.has(p))).toBe(8002);
  });
  it("returns null when the range is full", async () => {
    expect(await pickPort(new Set([8000, 8001]), 8000, 8001, () => true)).toBeNull();
  });
});
