import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../../lib/docker";
import { execIn } from "../../lib/exec";
import { HOST_IMAGE } from "../../lib/host/image";
import { syncSharedImages } from "../../lib/host/shared";
import { ensureClusterNetwork, loadImages, removeLocalCluster, startLocalNode, waitEngine } from "../../lib/cluster/nodes";
import { ensureCa, ensureServerCert, readClientTls } from "../../lib/cluster/tls";
import { NODE_IMAGES } from "../../services/cluster/local";

/**
 * Issue #17's "join a real second machine", on this machine: two DinD hosts from the host image on
 * one bridge, nothing shared between them but the network, as two computers would be. The control
 * plane runs inside host A (its CLI, as `docker exec moodle-dind-host moodle-dind …` would run it)
 * and has only A's own engine and B's engine over mutual TLS at B's address: no `docker exec` into
 * B from outside. A makes the cluster and B's certificates; B joins; A adds B (copying the images
 * B lacks), creates an instance placed on B, reaches it through A's port, and moves it back; then a
 * MariaDB site on B comes back on A from its snapshot.
 * Opt-in with the drill (MDIND_CLUSTER_TEST=1): it starts two hosts and installs a site.
 */
const wanted = process.env.MDIND_CLUSTER_TEST === "1";
const hasImage = await docker().getImage(HOST_IMAGE).inspect().then(() => true, () => false);
if (wanted && !hasImage) throw new Error(`MDIND_CLUSTER_TEST=1 needs ${HOST_IMAGE}: run \`bash scripts/up.sh\` once to build it`);

const CLUSTER = "clmach";
const NETWORK = `${CLUSTER}-cluster`;
const SUBNET = "10.213.14.0/24";
const A = { name: `${CLUSTER}-a`, ip: "10.213.14.11" };
const B = { name: `${CLUSTER}-b`, ip: "10.213.14.12" };
const PORT = Number.parseInt(process.env.MDIND_CLUSTER_MACHINES_PORT ?? "8380", 10);
const log = (l: string) => process.stderr.write(`[machines] ${l}\n`);
let tmp = "";

/** moodle-dind's CLI inside a host, as a user runs it there (`docker exec moodle-dind-host moodle-dind …`). */
async function cli(host: string, args: string[]): Promise<Record<string, unknown>> {
  const r = await execIn(host, ["moodle-dind", "cluster", ...args, "--json"], { what: `cluster ${args[0]} in ${host}`, timeoutMs: 1_200_000 });
  for (const l of r.stderr.trim().split("\n").filter(Boolean)) log(`${host}: ${l}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

async function page(port: number): Promise<Record<string, unknown>> {
  const r = await fetch(`http://127.0.0.1:${port}/`, { signal: AbortSignal.timeout(10_000) });
  expect(r.status).toBe(200);
  return (await r.json()) as Record<string, unknown>;
}

/** SQL in the instance's database, on the host that runs it (the test's view, not the product's path). */
async function sql(host: string, name: string, query: string): Promise<string> {
  const id = (await execIn(host, ["docker", "ps", "-q", "--filter", `label=com.docker.swarm.service.name=mdind-${name}_db`])).stdout.trim().split("\n")[0];
  return (await execIn(host, ["docker", "exec", "-u", "postgres", id, "psql", "-tA", "-d", "moodle", "-c", query])).stdout.trim();
}

async function mariadb(host: string, name: string, query: string): Promise<string> {
  const id = (await execIn(host, ["docker", "ps", "-q", "--filter", `label=com.docker.swarm.service.name=mdind-${name}_db`])).stdout.trim().split("\n")[0];
  return (await execIn(host, ["docker", "exec", id, "sh", "-c", 'exec $(command -v mariadb || command -v mysql) -uroot -N -B moodle -e "$0"', query])).stdout.trim();
}

async function waitDocker(host: string): Promise<void> {
  const deadline = Date.now() + 180_000;
  while ((await execIn(host, ["docker", "info"], { check: false }).catch(() => ({ exitCode: 1 }))).exitCode !== 0) {
    if (Date.now() > deadline) throw new Error(`${host}'s engine did not start`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

describe.runIf(wanted)("cluster of real machines: the control plane inside a host, the other machine over mutual TLS only", () => {
  let token = "";

  beforeAll(async () => {
    tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-machines-"));
    // Host A's own engine certificate only matters to this test (to load A's images as `up` would).
    await ensureCa(path.join(tmp, "outer"));
    await ensureServerCert(path.join(tmp, "outer"), path.join(tmp, "a-tls"), [A.name], [A.ip]);
    await ensureClusterNetwork(NETWORK, SUBNET, CLUSTER);
    const a = await startLocalNode({ cluster: CLUSTER, name: A.name, index: 1, ip: A.ip, network: NETWORK, tlsDir: path.join(tmp, "a-tls"), ports: { min: PORT, max: PORT + 1 } }, log);
    const engine = await waitEngine(a, await readClientTls(path.join(tmp, "outer")), 180_000);
    // What a user preloads on the first machine: the default stack's images and MariaDB's.
    const images = await syncSharedImages(path.resolve("shared-images"), [...NODE_IMAGES, { kind: "mariadb", version: "10.11" }], log);
    await loadImages(engine, [...images.written, ...images.current], log);
  }, 900_000);

  afterAll(async () => {
    await removeLocalCluster(CLUSTER, NETWORK, log).catch((e: Error) => log(`cleanup: ${e.message}`));
    expect(await docker().listContainers({ all: true, filters: { label: [`org.moodle-dind.cluster=${CLUSTER}`] } })).toHaveLength(0);
    await fs.rm(tmp, { recursive: true, force: true });
  }, 300_000);

  it("A makes the cluster and B's certificates; B joins; A adds B and copies the images it lacks", async () => {
    const init = await cli(A.name, ["init", "--advertise", A.ip, "--ports", `${PORT}-${PORT + 1}`]);
    token = String(init.workerToken);
    expect(token).toMatch(/^SWMTKN-/);
    const certs = (await cli(A.name, ["certs", B.name, "--address", B.ip])) as { files: string[] };
    // The user's copy of the three files to the other machine.
    await fs.mkdir(path.join(tmp, "b-tls"), { mode: 0o700 });
    for (const f of certs.files) await fs.writeFile(path.join(tmp, "b-tls", path.basename(f)), (await execIn(A.name, ["cat", f])).stdout, { mode: 0o600 });
    await startLocalNode({ cluster: CLUSTER, name: B.name, index: 2, ip: B.ip, network: NETWORK, tlsDir: path.join(tmp, "b-tls"), ports: null }, log);
    await waitDocker(B.name);
    // Before it joined, A refuses to add it: its engine answers, but it is no node of this swarm.
    await expect(cli(A.name, ["add", B.name, "--address", B.ip])).rejects.toThrow(/has not joined this swarm/);
    await cli(B.name, ["join", "--token", token, "--manager", `${A.ip}:2377`, "--advertise", B.ip]);
    const added = (await cli(A.name, ["add", B.name, "--address", B.ip])) as { images: string[] };
    expect(added.images).toHaveLength(NODE_IMAGES.length);
    const nodes = (await cli(A.name, ["nodes"])) as unknown as { hostname: string; state: string }[];
    expect(nodes.map((n) => n.hostname).sort()).toEqual([A.name, B.name]);
  }, 900_000);

  it("an instance placed on B is made through engine APIs only and answers through A's port", async () => {
    const t0 = Date.now();
    const r = (await cli(A.name, ["create", "mach1", "--moodle", "fixture", "--node", B.name])) as { node: string; port: number };
    log(`create on ${r.node}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
    expect(r).toMatchObject({ node: B.name, port: PORT });
    expect((await page(PORT)).site).toBeTruthy();
    const onB = (await execIn(B.name, ["docker", "ps", "-q", "--filter", "label=com.docker.swarm.service.name=mdind-mach1_web"])).stdout.trim();
    expect(onB).not.toBe("");
    await sql(B.name, "mach1", "CREATE TABLE mdl_course (id serial, fullname text); INSERT INTO mdl_course (fullname) VALUES ('made on B')");
  }, 1_200_000);

  it("moved back to A with a live copy over B's engine: same port, same data", async () => {
    const r = (await cli(A.name, ["move", "mach1", "--to", A.name])) as { seconds: number };
    log(`move to A: ${r.seconds.toFixed(1)} s`);
    expect((await page(PORT)).site).toBeTruthy();
    expect(await sql(A.name, "mach1", "SELECT fullname FROM mdl_course")).toBe("made on B");
    // The host's own reconcile (every dashboard start runs it) leaves cluster tasks and data alone.
    const rec = await execIn(A.name, ["moodle-dind", "reconcile", "--json"]);
    const report = JSON.parse(rec.stdout.trim().split("\n").pop()!) as { orphanContainers: string[]; orphanFolders: string[] };
    expect(report).toMatchObject({ orphanContainers: [], orphanFolders: [] });
    expect((await page(PORT)).site).toBeTruthy();
    expect(await sql(A.name, "mach1", "SELECT fullname FROM mdl_course")).toBe("made on B");
    await cli(A.name, ["remove", "mach1"]);
  }, 900_000);

  it("a MariaDB site on B (its image copied from A), snapshotted, recovered on A from the snapshot", async () => {
    const r = (await cli(A.name, ["create", "mach2", "--moodle", "fixture", "--node", B.name, "--db", "mariadb:10.11"])) as { node: string; port: number; db: { engine: string } };
    expect(r).toMatchObject({ node: B.name, db: { engine: "mariadb" } });
    expect((await page(r.port)).site).toBeTruthy();
    expect((await execIn(B.name, ["docker", "image", "inspect", "moodle-dind/mariadb:10.11"], { check: false })).exitCode).toBe(0);
    await mariadb(B.name, "mach2", "CREATE TABLE mdl_course (id int auto_increment primary key, fullname text); INSERT INTO mdl_course (fullname) VALUES ('before the snapshot')");
    const snap = (await cli(A.name, ["snapshot", "mach2"])) as { bytes: number };
    expect(snap.bytes).toBeGreaterThan(0);
    await mariadb(B.name, "mach2", "INSERT INTO mdl_course (fullname) VALUES ('after the snapshot')");
    const m = (await cli(A.name, ["move", "mach2", "--to", A.name, "--from-snapshot"])) as { seconds: number; how: string };
    log(`mariadb site from its snapshot onto A: ${m.seconds.toFixed(1)} s`);
    expect(m.how).toBe("snapshot");
    expect((await page(r.port)).site).toBeTruthy();
    expect(await mariadb(A.name, "mach2", "SELECT fullname FROM mdl_course ORDER BY id")).toBe("before the snapshot");
    await cli(A.name, ["remove", "mach2"]);
    await cli(A.name, ["leave"]);
  }, 1_200_000);
});
