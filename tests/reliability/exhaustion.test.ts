import { spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { cli, docker, FULL, inventory, purgeHome, summary, tempHome, type CliResult } from "./helpers";

/**
 * Scenario 4: exhaustion. The port pool is full, the subnet pool is full, the data folder's disk
 * is nearly full, an image is missing. Each create must fail with a clear error naming the cause,
 * and leave nothing half made: no container, network, folder or registry entry for it.
 */
const rel = inject("rel");
const homes: string[] = [];
const results: string[] = [];
const mounts: string[] = [];
const fillNets: string[] = [];

function home(): string {
  const h = tempHome("mdind-rel-exh-");
  homes.push(h);
  return h;
}

async function nothingMade(h: string, name: string): Promise<string[]> {
  const inv = await inventory(h);
  const left: string[] = [];
  if (inv.containers.length) left.push(`containers ${inv.containers.map((c) => c.name).join(",")}`);
  if (inv.networks.length) left.push(`networks ${inv.networks.map((n) => n.name).join(",")}`);
  if (inv.folders.includes(name)) left.push("folder");
  try {
    const reg = JSON.parse(fs.readFileSync(path.join(h, "state", "allocations.json"), "utf8"));
    if (reg.instances?.[name]) left.push("registry entry");
  } catch {
    /* no registry written at all: nothing reserved */
  }
  return left;
}

function clear(r: CliResult, re: RegExp): boolean {
  return r.code !== 0 && r.code !== null && re.test(r.stderr);
}

afterAll(async () => {
  for (const n of fillNets) await docker.getNetwork(n).remove().catch(() => undefined);
  for (const m of mounts) spawnSync("umount", ["-l", m]);
  for (const h of homes) await purgeHome(h);
});

describe("exhaustion", () => {
  it("port pool full: a clear conflict, nothing half made", async () => {
    let range: string;
    let filled: string;
    const h = home();
    const env: Record<string, string> = { MDIND_HOME: h };
    if (FULL) {
      // Two instances of our own fill a two-port range outside the default pool.
      const base = await twoFreePorts(8150, 8190);
      range = `${base}-${base + 1}`;
      env.MDIND_PORT_RANGE = range;
      for (const n of ["pa", "pb"]) {
        const r = await cli(["create", n, "--moodle", "fixture", "--no-install", "--json"], env);
        expect(r.code, r.stderr).toBe(0);
      }
      filled = "2 instances";
    } else {
      // A one-port range whose port a running instance (another data folder's) publishes.
      const a = (await fetch(`${rel.base}/api/v1/instances/${rel.shared[0]}`, { headers: { authorization: `Bearer ${rel.token}` } }).then((r) => r.json())) as { port: number };
      range = `${a.port}-${a.port}`;
      env.MDIND_PORT_RANGE = range;
      filled = "1 running instance";
    }
    const r = await cli(["create", "pz", "--moodle", "fixture", "--no-install", "--json"], env);
    const ok = clear(r, /port pool .* is full/) && r.code === 3;
    const left = await nothingMade(h, "pz");
    results.push(`port pool ${range} (${filled}): exit ${r.code} "${r.stderr.trim().split("\n").pop()}"`);
    if (FULL) for (const n of ["pa", "pb"]) await cli(["remove", n, "--yes"], env);
    expect(ok, r.stderr).toBe(true);
    expect(left).toEqual([]);
  });

  // Filling ~240 free subnets with placeholder bridges and removing them takes a minute or more of
  // engine time (and blocks every other create on this engine meanwhile): bench only.
  it.runIf(FULL)("subnet pool full: a clear conflict, nothing half made", async () => {
    const h = home();
    const used = new Set<number>();
    for (const n of await docker.listNetworks()) {
      for (const c of n.IPAM?.Config ?? []) {
        const m = /^172\.20\.(\d+)\.0\/24$/.exec(c.Subnet ?? "");
        if (m) used.add(Number(m[1]));
      }
    }
    const free = Array.from({ length: 254 }, (_, i) => i + 1).filter((n) => !used.has(n));
    const started = Date.now();
    // Cheap placeholder bridges on every free 172.20.N.0/24, made and removed within this test.
    for (let i = 0; i < free.length; i += 16) {
      await Promise.all(
        free.slice(i, i + 16).map(async (n) => {
          const name = `mdind-relfill-${process.pid}-${n}`;
          await docker.createNetwork({
            Name: name,
            Driver: "bridge",
            // Internal: no NAT rules, so the placeholders are as cheap as the engine allows.
            Internal: true,
            IPAM: { Driver: "default", Config: [{ Subnet: `172.20.${n}.0/24` }] },
            Labels: { "org.moodle-dind.test": "reliability-subnet-fill" },
          });
          fillNets.push(name);
        }),
      );
    }
    const fillSecs = (Date.now() - started) / 1000;
    let r: CliResult;
    try {
      r = await cli(["create", "sz", "--moodle", "fixture", "--no-install", "--json"], { MDIND_HOME: h });
    } finally {
      for (let i = 0; i < fillNets.length; i += 16) {
        await Promise.all(fillNets.slice(i, i + 16).map((n) => docker.getNetwork(n).remove().catch(() => undefined)));
      }
      fillNets.length = 0;
    }
    const left = await nothingMade(h, "sz");
    results.push(`subnet pool (${free.length} free N filled in ${fillSecs.toFixed(0)} s): exit ${r.code} "${r.stderr.trim().split("\n").pop()}"`);
    expect(clear(r, /subnet pool .* is full/) && r.code === 3, r.stderr).toBe(true);
    expect(left).toEqual([]);
  });

  it("disk full and nearly full: a clear capacity error, nothing half made", async () => {
    const h = home();
    const r0 = spawnSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", h]);
    expect(r0.status, String(r0.stderr)).toBe(0);
    mounts.push(h);
    for (const leftKiB of [16, 0]) {
      // Leave a few KiB (or nothing): too little for the instance folder, its record and config.
      fs.rmSync(path.join(h, "filler"), { force: true });
      const st = fs.statfsSync(h);
      fs.writeFileSync(path.join(h, "filler"), Buffer.alloc(Math.max(0, st.bavail * st.bsize - leftKiB * 1024)));
      const r = await cli(["create", "dz", "--moodle", "fixture", "--no-install", "--json"], { MDIND_HOME: h });
      const left = await nothingMade(h, "dz");
      const tmp = fs.readdirSync(path.join(h, "state")).filter((f) => f.endsWith(".tmp"));
      results.push(`disk ${leftKiB ? `nearly full (${leftKiB} KiB left)` : "full"}: exit ${r.code} "${r.stderr.trim().split("\n").pop()?.replace(h, "<home>").slice(0, 90)}"`);
      expect(clear(r, /disk holding .* is full/), r.stderr).toBe(true);
      expect(left).toEqual([]);
      expect(tmp).toEqual([]);
    }
  });

  it("image missing: a clear capacity error, nothing half made", async () => {
    const h = home();
    const prefix = `mdind-absent-${process.pid}`;
    const r = await cli(["create", "iz", "--moodle", "fixture", "--no-install", "--json"], {
      MDIND_HOME: h, MDIND_AUTO_BUILD: "0", MDIND_IMAGE_PREFIX: prefix,
    });
    const left = await nothingMade(h, "iz");
    results.push(`image missing (${prefix}/*): exit ${r.code} "${r.stderr.trim().split("\n").pop()?.slice(0, 90)}"`);
    expect(clear(r, /Image .* is missing/), r.stderr).toBe(true);
    expect(left).toEqual([]);
    summary(`exhaustion: ${results.length} cases (port pool, ${FULL ? "subnet pool, " : ""}disk full, disk nearly full, image missing), ${results.length} clear errors, 0 half made${FULL ? "" : " (subnet pool: bench only)"}`);
    for (const l of results) process.stdout.write(`  ${l}\n`);
  });
});

/** Two consecutive ports nothing on this host listens on. */
async function twoFreePorts(from: number, to: number): Promise<number> {
  const free = (p: number) =>
    new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once("error", () => resolve(false));
      s.listen(p, "0.0.0.0", () => s.close(() => resolve(true)));
    });
  for (let p = from; p < to; p++) if ((await free(p)) && (await free(p + 1))) return p;
  throw new Error(`no two free ports in ${from}–${to}`);
}
