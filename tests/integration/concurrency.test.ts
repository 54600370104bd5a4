import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import Docker from "dockerode";
import { tempHome } from "../helpers/cli";
import { parseCreateInput } from "../../instances/spec";

/**
 * 20 creates at once in one process (the operation channel and the allocation lock under load),
 * then all removed: distinct N and ports, and nothing left behind in the engine or on disk.
 */
const home = tempHome();
process.env.MDIND_HOME = home;
const docker = new Docker();
const COUNT = 20;
const sfx = process.pid.toString(36).slice(-4);
const names = Array.from({ length: COUNT }, (_, i) => `par${sfx}-${i + 1}`);

describe("parallel creates", () => {
  let lifecycle: typeof import("../../instances/lifecycle");
  let create: typeof import("../../instances/create");
  let reconcileMod: typeof import("../../services/reconcile");
  beforeAll(async () => {
    await docker.ping();
    lifecycle = await import("../../instances/lifecycle");
    create = await import("../../instances/create");
    reconcileMod = await import("../../services/reconcile");
  });
  afterAll(() => {
    fs.rmSync(home, { recursive: true, force: true });
  });

  it(`${COUNT} parallel creates get distinct allocations and leave no orphans`, async () => {
    const started = Date.now();
    const results = await Promise.allSettled(
      names.map((name) => create.createInstance(parseCreateInput({ name, moodle: "fixture", php: "8.2", install: false }))),
    );
    const ok = results.filter((r): r is PromiseFulfilledResult<Awaited<ReturnType<typeof create.createInstance>>> => r.status === "fulfilled").map((r) => r.value);
    const failed = results.filter((r) => r.status === "rejected").map((r) => String((r as PromiseRejectedResult).reason));
    expect(failed).toEqual([]);
    expect(new Set(ok.map((r) => r.n)).size).toBe(COUNT);
    expect(new Set(ok.map((r) => r.port)).size).toBe(COUNT);
    process.stdout.write(`concurrency: ${COUNT} creates in ${((Date.now() - started) / 1000).toFixed(1)} s, 0 duplicates\n`);

    // The same name twice at once: exactly one wins, the other gets a conflict.
    const dup = await Promise.allSettled([
      create.createInstance(parseCreateInput({ name: `par${sfx}-dup`, moodle: "fixture", install: false })),
      create.createInstance(parseCreateInput({ name: `par${sfx}-dup`, moodle: "fixture", install: false })),
    ]);
    expect(dup.filter((r) => r.status === "fulfilled")).toHaveLength(1);
    expect(String((dup.find((r) => r.status === "rejected") as PromiseRejectedResult).reason)).toMatch(/busy|already exists/);

    const removed = await Promise.allSettled([...names, `par${sfx}-dup`].map((n) => lifecycle.removeInstance(n)));
    expect(removed.filter((r) => r.status === "rejected")).toEqual([]);

    const left = await docker.listContainers({ all: true, filters: { label: ["org.moodle-dind.managed=true"] } });
    expect(left.filter((c) => c.Labels["org.moodle-dind.instance"]?.startsWith(`par${sfx}-`))).toHaveLength(0);
    const nets = (await docker.listNetworks()).filter((n) => ok.some((r) => n.Name === `mdind-n${r.n}`));
    expect(nets).toHaveLength(0);
    expect(fs.readdirSync(`${home}/instances`)).toEqual([]);
    const report = await reconcileMod.reconcile({ dryRun: true });
    expect(report.consistent).toBe(true);
    process.stdout.write(`concurrency: ${COUNT} removes, 0 orphans\n`);
  });
});
