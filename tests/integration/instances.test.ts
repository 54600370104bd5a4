import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import Docker from "dockerode";
import type { InstanceView } from "../../instances/query";
import { cli, get, tempHome } from "../helpers/cli";

/**
 * The instance core against the real engine and real images, through the real CLI: side-by-side
 * instances, data across stop/start, allocation reuse after remove, parallel creates and rollback.
 */
const home = tempHome();
const env = { MDIND_HOME: home };
const docker = new Docker();
const LABEL = "org.moodle-dind.instance";
// Container names are global to the engine: a per-run suffix keeps runs (and machines' leftovers) apart.
const sfx = process.pid.toString(36).slice(-4);
const A = `alpha-${sfx}`;
const B = `beta-${sfx}`;
const C = `gamma-${sfx}`;
const BROKEN = `broken-${sfx}`;

const made = new Set<string>();

async function create(name: string, extra: string[] = []) {
  made.add(name);
  const r = await cli(["create", name, "--moodle", "fixture", "--php", "8.2", "--json", ...extra], env);
  if (r.code !== 0) throw new Error(`create ${name} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

async function remove(name: string) {
  return cli(["remove", name, "--yes", "--json"], env);
}

async function ourContainers(names: string[]) {
  const list = await docker.listContainers({ all: true, filters: { label: names.map((n) => `${LABEL}=${n}`) } });
  return list.filter((c) => names.includes(c.Labels[LABEL]));
}

describe("instances on the real engine", () => {
  beforeAll(async () => {
    await docker.ping();
  });
  afterAll(async () => {
    for (const n of made) await remove(n);
    fs.rmSync(home, { recursive: true, force: true });
  });

  let a: InstanceView;
  let b: InstanceView;

  it("creates two instances that answer side by side on their own ports and subnets", async () => {
    [a, b] = await Promise.all([create(A), create(B, ["--db", "mariadb:10.11", "--web", "apache"])]);
    for (const i of [a, b]) {
      for (const k of ["name", "status", "url", "port", "subnet", "php", "db", "web"]) expect(i).toHaveProperty(k);
      expect(i.status).toBe("running");
      expect(i.url).toBe(`http://127.0.0.1:${i.port}/`);
      expect(i.port).toBeGreaterThanOrEqual(8000);
      expect(i.port).toBeLessThanOrEqual(8099);
    }
    expect(a.port).not.toBe(b.port);
    expect(a.subnet).not.toBe(b.subnet);
    expect(b.db).toBe("mariadb:10.11");
    expect(b.web).toBe("apache:2.4");

    for (const i of [a, b]) {
      const res = await get(i.port, "/");
      expect(res.status).toBe(200);
      const page = JSON.parse(res.body);
      expect(page.app).toBe("moodle-dind fixture");
      expect(page.php).toMatch(/^8\.2\./);
      expect(page.site).toBe(`Moodle ${i.name}`); // the install hook ran
      expect(page.wwwroot).toBe(`http://127.0.0.1:${i.port}`);
      const net = await docker.getNetwork(`mdind-n${i.n}`).inspect();
      expect(net.IPAM?.Config?.[0]?.Subnet).toBe(i.subnet);
      expect(net.IPAM?.Config?.[0]?.Subnet).toMatch(/^172\.20\.\d+\.0\/24$/);
    }
    expect(JSON.parse((await get(a.port, "/")).body).sessioncookie).not.toBe(JSON.parse((await get(b.port, "/")).body).sessioncookie);

    const dir = path.join(home, "instances", A);
    for (const f of ["config/php-8.2/php.ini", "config/php-8.2/fpm.conf", "config/postgres-15/postgresql.conf", "config/nginx-1.22/site.conf", "instance.json"]) {
      expect(fs.existsSync(path.join(dir, f)), f).toBe(true);
    }
    expect(fs.existsSync(path.join(home, "instances", B, "config/mariadb-10.11/my.cnf"))).toBe(true);
    expect(fs.existsSync(path.join(home, "instances", B, "config/apache-2.4/site.conf"))).toBe(true);
    expect(fs.readdirSync(path.join(dir, "logs")).sort()).toEqual(["cron-8.2", "nginx-1.22", "php-8.2", "postgres-15"]);
    expect(fs.statSync(path.join(dir, "secrets.json")).mode & 0o777).toBe(0o600);

    const secret = JSON.parse(fs.readFileSync(path.join(dir, "secrets.json"), "utf8"));
    const logs = fs.readdirSync(path.join(home, "operations", A)).map((f) => fs.readFileSync(path.join(home, "operations", A, f), "utf8")).join("");
    expect(logs).not.toContain(secret.adminPassword);
    expect(logs).not.toContain(secret.dbPassword);

    const list = await cli(["list", "--json"], env);
    expect(JSON.parse(list.stdout).map((i: { name: string }) => i.name).sort()).toEqual([A, B]);

    const labelled = await ourContainers([A]);
    expect(labelled.map((c) => c.Labels["org.moodle-dind.service"]).sort()).toEqual(["app", "cron", "db", "web"]);
    for (const c of labelled) {
      const info = await docker.getContainer(c.Id).inspect();
      expect(info.HostConfig.RestartPolicy?.Name).toBe("unless-stopped");
      // No engine health check (each is an exec for the container's life); health is probed (instances/health.ts).
      expect(info.Config.Healthcheck?.Test).toEqual(["NONE"]);
    }
  });

  it("keeps data across stop and start", async () => {
    const before = JSON.parse((await get(a.port, "/")).body);
    expect((await cli(["stop", A, "--json"], env)).code).toBe(0);
    expect(JSON.parse((await cli(["info", A, "--json"], env)).stdout).status).toBe("stopped");
    await expect(get(a.port, "/")).rejects.toThrow();
    const started = await cli(["start", A, "--json"], env);
    expect(started.code).toBe(0);
    expect(JSON.parse(started.stdout).status).toBe("running");
    const after = JSON.parse((await get(a.port, "/")).body);
    expect(after.db_visits).toBe(before.db_visits + 1);
    expect(after.moodledata_counter).toBe(before.moodledata_counter + 1);
  });

  it("runs commands inside a service with exec, without a shell", async () => {
    const r = await cli(["exec", A, "--service", "app", "--", "php", "-r", "echo ini_get('max_input_vars');"], env);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe("5000");
    const who = await cli(["exec", A, "--", "id", "-un"], env);
    expect(who.stdout.trim()).toBe("www-data");
  });

  it("frees N and the port on remove, and the next create reuses them", async () => {
    const r = await remove(B);
    expect(r.code).toBe(0);
    made.delete(B);
    expect(await ourContainers([B])).toHaveLength(0);
    expect(fs.existsSync(path.join(home, "instances", B))).toBe(false);
    await expect(docker.getNetwork(`mdind-n${b.n}`).inspect()).rejects.toThrow();
    const c = await create(C);
    expect(c.n).toBe(b.n);
    expect(c.port).toBe(b.port);
    expect(c.subnet).not.toBe(a.subnet);
    expect((await get(c.port, "/")).status).toBe(200);
  });

  it("rolls back everything when a create fails, with a readable error", async () => {
    // --no-template: a template of this combination exists by now, and it would skip the install hook.
    const r = await cli(["create", BROKEN, "--moodle", "fixture", "--site-name", "FAIL-INSTALL", "--no-template", "--json"], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/install/);
    expect(r.stderr).toMatch(/failed on purpose/);
    expect(await ourContainers([BROKEN])).toHaveLength(0);
    expect(fs.existsSync(path.join(home, "instances", BROKEN))).toBe(false);
    const reg = JSON.parse(fs.readFileSync(path.join(home, "state", "allocations.json"), "utf8"));
    expect(reg.instances[BROKEN]).toBeUndefined();
    const rec = await cli(["reconcile", "--json"], env);
    expect(JSON.parse(rec.stdout).consistent).toBe(true);
  });

  it("refuses bad input with a one-line reason and a non-zero exit", async () => {
    for (const args of [
      ["create", "../etc", "--moodle", "fixture"],
      ["create", "Bad Name"],
      ["create", "okname", "--moodle", "fixture", "--php", "9.1"],
      ["create", "okname", "--moodle", "fixture", "--db", "mysql:8"],
      ["create", A, "--moodle", "fixture"],
      ["remove", A],
      ["info", "nosuch"],
    ]) {
      const r = await cli(args, env);
      expect(r.code, args.join(" ")).not.toBe(0);
      expect(r.stderr.trim().split("\n").at(-1)).toMatch(/^moodle-dind: /);
    }
    expect(fs.existsSync(path.join(home, "instances", "okname"))).toBe(false);
  });
});
