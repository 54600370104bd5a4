import { describe, expect, it } from "vitest";
import { dueSnapshots, snapshotIntervalMs } from "../../services/cluster/schedule";
import type { ClusterInstance } from "../../services/cluster/state";

const inst = (name: string, at?: string): ClusterInstance => ({ name, n: 100, port: 8300, node: "n1", ...(at ? { snapshot: { file: `/x/${name}.tar.gz`, at, bytes: 1 } } : {}) });

describe("cluster snapshot timer", () => {
  it("reads its interval from the environment, clamped; 0, negative or garbage turn it off", () => {
    expect(snapshotIntervalMs(undefined)).toBe(3_600_000);
    expect(snapshotIntervalMs("")).toBe(3_600_000);
    expect(snapshotIntervalMs("15")).toBe(900_000);
    expect(snapshotIntervalMs("0.5")).toBe(30_000);
    expect(snapshotIntervalMs("99999999")).toBe(7 * 24 * 3_600_000);
    for (const off of ["0", "-5", "abc", "1e400", "NaN", "15; rm -rf /"]) expect(snapshotIntervalMs(off), off).toBe(0);
  });

  it("takes instances with no snapshot or an old one, the oldest first, and leaves fresh ones", () => {
    const now = Date.parse("2026-11-30T12:00:00Z");
    const list = [
      inst("fresh", "2026-11-30T11:30:00Z"),
      inst("old", "2026-11-30T10:00:00Z"),
      inst("never"),
      inst("older", "2026-11-30T09:00:00Z"),
      inst("garbled", "not a date"),
    ];
    expect(dueSnapshots(list, now, 3_600_000)).toEqual(["never", "garbled", "older", "old"]);
    expect(dueSnapshots(list, now, 0)).toHaveLength(5);
    expect(dueSnapshots([], now, 0)).toEqual([]);
  });
});
