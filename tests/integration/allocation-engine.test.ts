import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { docker, LABEL } from "@/lib/docker";
import { enginesUsedN, reclaimAbandoned, removeNetwork } from "@/networks/subnets";

const run = promisify(execFile);

/**
 * Two data dirs on one engine (a test run beside a dashboard, two e2e servers) allocate at the
 * same moment. Their registries are separate files, so only the engine can arbitrate 172.20.N:
 * each N must go to exactly one of them, and the loser must move on to another N, never fail
 * with "belongs to someone else".
 */
const homes = [0, 1].map(() => fs.mkdtempSync(path.join(os.tmpdir(), "mdind-alloc-race-")));
const PER_HOME = 4;

const script = `
import { allocate } from ${JSON.stringify(path.resolve("lib/allocation.ts"))};
const names = process.argv.slice(1);
const out = await Promise.allSettled(names.map((n) => allocate(n)));
process.stdout.write(JSON.stringify(out.map((r) => r.status === "fulfilled" ? { n: r.value.n } : { error: String(r.reason?.message ?? r.reason) })));
`;

afterAll(async () => {
  // The home label is homeId() of each data dir: its path's sha256, first 12 hex digits.
  const ids = new Set(homes.map((h) => createHash("sha256").update(h).digest("hex").slice(0, 12)));
  for (const net of await docker().listNetworks()) {
    if (net.Name.startsWith("mdind-n") && ids.has(net.Labels?.[LABEL.home] ?? "")) await docker().getNetwork(net.Id).remove().catch(() => null);
  }
  for (const h of homes) fs.rmSync(h, { recursive: true, force: true });
});

describe("allocation across data dirs sharing an engine", () => {
  it("gives each 172.20.N to one data dir only, and the other moves on", async () => {
    const file = path.join(homes[0], "alloc.mts");
    fs.writeFileSync(file, script);
    const results = await Promise.all(
      homes.map(async (home, i) => {
        const names = Array.from({ length: PER_HOME }, (_, k) => `race${i}x${k}`);
        const { stdout } = await run("npx", ["tsx", "--tsconfig", path.resolve("tsconfig.json"), file, ...names], {
          cwd: process.cwd(),
          env: { ...process.env, MDIND_HOME: home, MDIND_PREALLOCATED_NETWORKS: "0" },
        });
        return JSON.parse(stdout) as { n?: number; error?: string }[];
      }),
    );
    const all = results.flat();
    expect(all.filter((r) => r.error), JSON.stringify(all)).toEqual([]);
    const ns = all.map((r) => r.n);
    expect(new Set(ns).size).toBe(ns.length);
    // Every N handed out is backed by a network of the data dir that got it.
    for (const n of ns) expect(await docker().getNetwork(`mdind-n${n}`).inspect()).toBeTruthy();
  }, 180_000);

  it("reclaims a network whose data dir is gone, and never one whose data dir exists", async () => {
    const gone = path.join(os.tmpdir(), `mdind-gone-${process.pid}`);
    const cases = [
      { n: 252, homePath: gone, reclaimed: true },
      // A data dir that still exists (its instance only stopped), and a label that is not a path.
      { n: 253, homePath: homes[1], reclaimed: false },
      { n: 254, homePath: "relative/dir", reclaimed: false },
    ];
    for (const c of cases) {
      await docker().getNetwork(`mdind-n${c.n}`).remove().catch(() => null);
      await docker().createNetwork({
        Name: `mdind-n${c.n}`,
        Labels: { [LABEL.managed]: "true", [LABEL.home]: "someone-else", [LABEL.homePath]: c.homePath },
        IPAM: { Driver: "default", Config: [{ Subnet: `172.20.${c.n}.0/24` }] },
      });
    }
    try {
      const used = await enginesUsedN();
      for (const c of cases) expect(used.get(c.n)?.abandoned, String(c.n)).toBe(c.reclaimed);
      for (const c of cases) {
        expect(await reclaimAbandoned(c.n), String(c.n)).toBe(c.reclaimed);
        const left = await docker().getNetwork(`mdind-n${c.n}`).inspect().then(() => true, () => false);
        expect(left, String(c.n)).toBe(!c.reclaimed);
      }
    } finally {
      for (const c of cases) await docker().getNetwork(`mdind-n${c.n}`).remove().catch(() => null);
    }
  });

  it("never removes another data dir's network of the same name", async () => {
    const n = 251;
    const name = `mdind-n${n}`;
    await docker().getNetwork(name).remove().catch(() => null);
    await docker().createNetwork({ Name: name, Labels: { [LABEL.managed]: "true", [LABEL.home]: "someone-else" }, IPAM: { Driver: "default", Config: [{ Subnet: `172.20.${n}.0/24` }] } });
    try {
      await removeNetwork(n);
      expect((await docker().getNetwork(name).inspect()).Name).toBe(name);
    } finally {
      await docker().getNetwork(name).remove().catch(() => null);
    }
  });
});
