import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import tar from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { docker, homeId, homeIdOf, LABEL } from "@/lib/docker";
import { clearStackNames } from "@/instances/names";
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

/** An image of one file, imported (no registry, no build): enough to create containers that never run. */
async function oneFileImage(image: string): Promise<void> {
  const pack = tar.pack();
  pack.entry({ name: "x" }, "x");
  pack.finalize();
  const [repo, tag] = image.split(":");
  await new Promise<void>((resolve, reject) =>
    docker().importImage(pack as never, { repo, tag }, (err, out) => (err ? reject(err) : docker().modem.followProgress(out!, (e) => (e ? reject(e) : resolve())))),
  );
}

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

  it("reclaims a network whose data dir is gone, and never one that may still be in use", async () => {
    const gone = path.join(os.tmpdir(), `mdind-gone-${process.pid}`);
    const cases = [
      { why: "its data dir is gone", homePath: gone, home: homeIdOf(gone), reclaimed: true },
      { why: "its data dir exists (its instances only stopped)", homePath: homes[1], home: homeIdOf(homes[1]), reclaimed: false },
      { why: "the path label is not a path", homePath: "relative/dir", home: homeIdOf("relative/dir"), reclaimed: false },
      { why: "the two labels disagree", homePath: gone, home: "0123456789ab", reclaimed: false },
      { why: "a stopped container is on it", homePath: `${gone}-stopped`, home: homeIdOf(`${gone}-stopped`), reclaimed: false, stopped: true },
    ];
    // Free Ns at the top of the range: this engine may be shared, and another data dir's networks
    // are never touched.
    const used = await enginesUsedN();
    const ns = Array.from({ length: 254 }, (_, i) => 254 - i).filter((n) => !used.has(n)).slice(0, cases.length);
    expect(ns).toHaveLength(cases.length);
    const made: string[] = [];
    let image = "";
    try {
      for (const [i, c] of cases.entries()) {
        const name = `mdind-n${ns[i]}`;
        await docker().createNetwork({
          Name: name,
          Labels: { [LABEL.managed]: "true", [LABEL.home]: c.home, [LABEL.homePath]: c.homePath },
          IPAM: { Driver: "default", Config: [{ Subnet: `172.20.${ns[i]}.0/24` }] },
        });
        made.push(name);
        if (c.stopped) {
          image = `mdind-it/one-file:${process.pid}`;
          await oneFileImage(image);
          // Created, never started: the network's own list of containers does not show it.
          await docker().createContainer({ Image: image, Cmd: ["/x"], Labels: { [LABEL.home]: c.home }, HostConfig: { NetworkMode: name } });
        }
      }
      const seen = await enginesUsedN();
      for (const [i, c] of cases.entries()) expect(seen.get(ns[i])?.abandoned, c.why).toBe(c.reclaimed || Boolean(c.stopped));
      for (const [i, c] of cases.entries()) {
        expect(await reclaimAbandoned(ns[i]), c.why).toBe(c.reclaimed);
        const left = await docker().getNetwork(`mdind-n${ns[i]}`).inspect().then(() => true, () => false);
        expect(left, c.why).toBe(!c.reclaimed);
      }
    } finally {
      if (image) {
        for (const c of await docker().listContainers({ all: true, filters: { ancestor: [image] } })) await docker().getContainer(c.Id).remove({ force: true });
        await docker().getImage(image).remove({ force: true }).catch(() => null);
      }
      for (const name of made) await docker().getNetwork(name).remove().catch(() => null);
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

  it("a create's container names: an abandoned or orphaned holder is removed, a living one refuses with its owner", async () => {
    const gone = path.join(os.tmpdir(), `mdind-gone-names-${process.pid}`);
    const image = `mdind-it/one-file:names-${process.pid}`;
    await oneFileImage(image);
    const holder = (name: string, labels: Record<string, string>) =>
      docker().createContainer({ name: `mdind-${name}-db`, Image: image, Cmd: ["/x"], Labels: labels });
    const tagged = (k: string) => `names${process.pid}${k}`;
    try {
      // A data dir whose folder is gone (the CI run that met rel-a's leftover): reclaimed.
      await holder(tagged("a"), { [LABEL.managed]: "true", [LABEL.home]: homeIdOf(gone), [LABEL.homePath]: gone });
      await clearStackNames(tagged("a"));
      expect(await docker().listContainers({ all: true, filters: { name: [`mdind-${tagged("a")}-db`] } })).toEqual([]);
      // Our own, with no instance in the registry: an orphan of a crashed create, reclaimed.
      await holder(tagged("b"), { [LABEL.managed]: "true", [LABEL.home]: homeId() });
      await clearStackNames(tagged("b"));
      expect(await docker().listContainers({ all: true, filters: { name: [`mdind-${tagged("b")}-db`] } })).toEqual([]);
      // A living data dir's: refused, naming it, and left alone.
      await holder(tagged("c"), { [LABEL.managed]: "true", [LABEL.home]: homeIdOf(homes[1]), [LABEL.homePath]: homes[1] });
      await expect(clearStackNames(tagged("c"))).rejects.toThrow(`belongs to another Moodle DinD data folder (${homes[1]}); choose another name`);
      // Someone's own container: refused too.
      await holder(tagged("d"), {});
      await expect(clearStackNames(tagged("d"))).rejects.toThrow("a container this product did not make");
      for (const k of ["c", "d"]) expect(await docker().listContainers({ all: true, filters: { name: [`mdind-${tagged(k)}-db`] } })).toHaveLength(1);
    } finally {
      for (const c of await docker().listContainers({ all: true, filters: { ancestor: [image] } })) await docker().getContainer(c.Id).remove({ force: true });
      await docker().getImage(image).remove({ force: true }).catch(() => null);
    }
  });
});
