import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, get, tempHome } from "../helpers/cli";
import { fixtureBuild, pluginVersion } from "../helpers/fixture-builds";

/**
 * Rehearsing a Moodle upgrade through the real CLI on the real engine. The fixture app is added to
 * the library three times as stand-ins for real builds: 5.0.0 with 5.0's layout (web root at the
 * code root), 5.1.0 with 5.1's public/ layout, and a 5.1.1 whose environment.xml wants at least
 * 5.0.2 (a path rule the 5.0.0 site does not meet). The fixture's admin/cli stand-ins behave like
 * Moodle's: upgrade.php records the new $version and fails when a plugin folder says so. Every
 * build ships mod/assignish with a subplugin type; the site adds a subplugin to it and a module of
 * its own that brings subplugins, and both must reach the upgraded code.
 */
const home = tempHome("mdind-upgrade-it-");
const sfx = process.pid.toString(36).slice(-4);
const SITE = `up-${sfx}`;
const CLONE = `upc-${sfx}`;
const FRESH = `upn-${sfx}`;
const env = { MDIND_HOME: home, MDIND_MOODLE_SOURCES: path.join(home, "no-sources") };
const docker = new Docker();
const made = new Set<string>();
const ids: Record<"a" | "b" | "c", string> = { a: "", b: "", c: "" };

async function run(args: string[]) {
  const r = await cli([...args, "--json"], env);
  if (r.code !== 0) throw new Error(`${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const record = (name: string) => JSON.parse(fs.readFileSync(path.join(home, "instances", name, "instance.json"), "utf8"));
const code = (name: string, ...p: string[]) => path.join(home, "instances", name, "data", "code", ...p);
const tree = (id: string, ...p: string[]) => path.join(home, "cache", "moodle", id, "tree", ...p);

/** A plugin the site's admins added: a folder the build does not have. */
function addPlugin(name: string, dir: string, supported: [number, number], opts: { throws?: boolean; component?: string } = {}) {
  const p = code(name, dir);
  fs.mkdirSync(p, { recursive: true });
  fs.writeFileSync(path.join(p, "version.php"), pluginVersion(opts.component ?? `local_${path.basename(dir)}`, supported));
  if (opts.throws) fs.writeFileSync(path.join(p, "upgrade_throws"), "1");
}

/**
 * The site's subplugins: one added to the module the build ships (mod/assignish/sub/extra), and
 * a module of its own (mod/withsubs) whose db/subplugins.json names mod/withsubs/parts.
 */
function addSubplugins(name: string) {
  addPlugin(name, "mod/assignish/sub/extra", [500, 501], { component: "assignishsub_extra" });
  addPlugin(name, "mod/withsubs", [500, 501], { component: "mod_withsubs" });
  fs.mkdirSync(code(name, "mod/withsubs/db"));
  fs.writeFileSync(code(name, "mod/withsubs/db/subplugins.json"), JSON.stringify({ plugintypes: { withsubspart: "mod/withsubs/parts" } }));
  addPlugin(name, "mod/withsubs/parts/good", [500, 501], { component: "withsubspart_good" });
}

/** The site's subplugins are in the upgraded code (public/ on 5.1), the build's own still linked. */
function expectSubplugins(name: string, buildId: string) {
  expect(fs.existsSync(code(name, "public/mod/assignish/sub/extra/version.php"))).toBe(true);
  expect(fs.existsSync(code(name, "public/mod/withsubs/parts/good/version.php"))).toBe(true);
  expect(fs.existsSync(code(name, "public/mod/withsubs/db/subplugins.json"))).toBe(true);
  expect(fs.statSync(code(name, "public/mod/assignish/sub/core1/version.php")).ino).toBe(fs.statSync(tree(buildId, "public/mod/assignish/sub/core1/version.php")).ino);
  expect(fs.existsSync(tree(buildId, "public/mod/assignish/sub/extra"))).toBe(false);
}

/** One value from the site's own table, read in its db container. */
async function siteValue(name: string, key: string): Promise<string> {
  const exec = await docker.getContainer(`mdind-${name}-db`).exec({
    Cmd: ["psql", "-U", "postgres", "-d", "moodle", "-tAc", `SELECT value FROM mdl_fixture_site WHERE name = '${key}'`],
    User: "postgres", AttachStdout: true, AttachStderr: true,
  });
  const stream = await exec.start({ hijack: true, stdin: false });
  const out = new PassThrough();
  let text = "";
  out.on("data", (d) => (text += d));
  docker.modem.demuxStream(stream, out, new PassThrough());
  await new Promise((r) => stream.on("end", r));
  return text.trim();
}

async function page(port: number) {
  const r = await get(port, "/");
  expect(r.status, r.body).toBe(200);
  return JSON.parse(r.body) as { moodledata_counter: number; db_visits: number; site: string };
}

beforeAll(async () => {
  await docker.ping();
  const builds = path.join(home, "builds");
  fixtureBuild(path.join(builds, "a"), { version: "2025041400.00", release: "5.0.0 (Build: 20250414)", branch: "500", publicDir: false, env: [["5.0", "4.2.3"]] });
  fixtureBuild(path.join(builds, "b"), { version: "2025100600.00", release: "5.1.0 (Build: 20251006)", branch: "501", publicDir: true, env: [["5.0", "4.2.3"], ["5.1", "4.2.3"]] });
  fixtureBuild(path.join(builds, "c"), { version: "2025100601.00", release: "5.1.1 (Build: 20251110)", branch: "501", publicDir: true, env: [["5.1", "5.0.2"]] });
  for (const k of ["a", "b", "c"] as const) ids[k] = (await run(["moodle", "add", path.join(builds, k)])).id;
});

afterAll(async () => {
  for (const n of made) await cli(["remove", n, "--yes"], env);
  fs.rmSync(home, { recursive: true, force: true });
});

describe("moodle-dind upgrade (CLI, real engine)", () => {
  let port = 0;

  it("creates a 5.0 site whose view says a newer build is there", async () => {
    made.add(SITE);
    const view = await run(["create", SITE, "--moodle", ids.a]);
    port = view.port;
    expect(record(SITE).source).toMatchObject({ buildId: ids.a, publicDir: false, release: "5.0.0 (Build: 20250414)" });
    expect(view.upgrade).toEqual({ available: true, to: ids.c });
    await page(port);
    expect((await page(port)).moodledata_counter).toBe(2);
    addPlugin(SITE, "local/keep", [500, 501]);
    addSubplugins(SITE);
  });

  it("refuses what Moodle's own rules refuse, each with one line, before touching anything", async () => {
    const before = fs.readdirSync(path.join(home, "operations", SITE)).length;
    // 5.1 resolves to 5.1.1, whose environment.xml wants 5.0.2 or later.
    const path51 = await cli(["upgrade", SITE, "--to", "5.1"], env);
    expect(path51.code).toBe(2);
    expect(path51.stderr.trim().split("\n")).toHaveLength(1);
    expect(path51.stderr).toMatch(/upgrades only from 5\.0\.2 or later .* runs 5\.0\.0/);

    addPlugin(SITE, "local/old", [405, 500]);
    const plugin = await cli(["upgrade", SITE, "--to", ids.b], env);
    expect(plugin.code).toBe(3);
    expect(plugin.stderr.trim().split("\n")).toHaveLength(1);
    expect(plugin.stderr).toMatch(/local_old \(supports 4\.5–5\.0 only\)/);
    expect(plugin.stderr).not.toMatch(/local_keep/);
    fs.rmSync(code(SITE, "local", "old"), { recursive: true });

    // A subplugin inside an added module is checked with it: the module alone would be carried.
    addPlugin(SITE, "mod/withsubs/parts/old", [405, 500], { component: "withsubspart_old" });
    const sub = await cli(["upgrade", SITE, "--to", ids.b], env);
    expect(sub.code).toBe(3);
    expect(sub.stderr).toMatch(/withsubspart_old, a subplugin of mod_withsubs \(supports 4\.5–5\.0 only\)/);
    fs.rmSync(code(SITE, "mod/withsubs/parts/old"), { recursive: true });
    // And a subplugin added to a shipped module is an added plugin like any other.
    addPlugin(SITE, "mod/assignish/sub/old", [405, 500], { component: "assignishsub_old" });
    const sub2 = await cli(["upgrade", SITE, "--to", ids.b], env);
    expect(sub2.code).toBe(3);
    expect(sub2.stderr).toMatch(/assignishsub_old \(supports 4\.5–5\.0 only\)/);
    fs.rmSync(code(SITE, "mod/assignish/sub/old"), { recursive: true });

    const same = await cli(["upgrade", SITE, "--to", ids.a], env);
    expect(same.code).toBe(2);
    expect(same.stderr).toMatch(/already runs 5\.0\.0/);
    const bad = await cli(["upgrade", SITE, "--to", "latest"], env);
    expect(bad.code).toBe(2);
    expect(fs.readdirSync(path.join(home, "operations", SITE))).toHaveLength(before);
    expect(record(SITE).source.buildId).toBe(ids.a);
  });

  it("--clone upgrades a clone; the source stays on its build and keeps serving", async () => {
    made.add(CLONE);
    const view = await run(["upgrade", SITE, "--to", ids.b, "--clone", CLONE]);
    expect(view).toMatchObject({ name: CLONE, release: "5.1.0 (Build: 20251006)", build: ids.b, status: "running" });
    expect(record(CLONE).source).toMatchObject({ buildId: ids.b, publicDir: true });
    expect((await page(view.port)).moodledata_counter).toBe(3);
    expect(fs.existsSync(code(CLONE, "public", "local", "keep", "version.php"))).toBe(true);
    expectSubplugins(CLONE, ids.b);
    expect(await siteValue(CLONE, "version")).toBe("2025100600.00");

    expect(record(SITE).source).toMatchObject({ buildId: ids.a, publicDir: false });
    expect((await page(port)).moodledata_counter).toBe(3);
    expect(await siteValue(SITE, "version")).toBe("2025041400.00");
    await cli(["remove", CLONE, "--yes"], env);
    made.delete(CLONE);
  });

  it("a failing upgrade is rolled back: old build, data and code links intact, the site answers", async () => {
    addPlugin(SITE, "local/keep", [500, 501], { throws: true });
    const r = await cli(["upgrade", SITE, "--to", ids.b], env);
    expect(r.code).not.toBe(0);
    const last = r.stderr.trim().split("\n").pop() ?? "";
    expect(last).toMatch(/^moodle-dind: upgrade: rolled back: .* is on 5\.0\.0 \(Build: 20250414\) again \(snapshot \d{8}T\d{6}Z-pre-upgrade restored\)/);
    expect(last).toMatch(/local_keep upgrade failed on purpose/);
    expect(r.stderr).toMatch(/✓ rollback/);

    expect(record(SITE).source).toMatchObject({ buildId: ids.a, publicDir: false, release: "5.0.0 (Build: 20250414)" });
    expect(record(SITE).spec.moodle).toBe("5.0");
    expect(await siteValue(SITE, "version")).toBe("2025041400.00");
    expect(await siteValue(SITE, "maintenance")).toBe("");
    const p = await page(port);
    expect(p.moodledata_counter).toBe(4);
    expect(p.db_visits).toBe(4);
    expect((await get(port, "/login/index.php")).status).toBe(200);
    // The code is the tree set aside, links into build A, not the archive's copy.
    expect(fs.statSync(code(SITE, "index.php")).ino).toBe(fs.statSync(tree(ids.a, "index.php")).ino);
    expect(fs.existsSync(`${code(SITE)}.pre-upgrade`)).toBe(false);
    expect(fs.readFileSync(path.join(home, "instances", SITE, "config", "nginx-1.22", "site.conf"), "utf8")).toMatch(/root \/var\/www\/moodle;/);
    fs.rmSync(code(SITE, "local", "keep", "upgrade_throws"));
  });

  it("upgrades in place: new build and web root, data kept, plugin carried, builds untouched", async () => {
    // A template for build B first, so the next create of B can be checked against it.
    made.add(FRESH);
    await run(["create", FRESH, "--moodle", ids.b]);
    await cli(["remove", FRESH, "--yes"], env);
    made.delete(FRESH);

    const r = await cli(["upgrade", SITE, "--to", ids.b, "--json"], env);
    expect(r.code, r.stderr).toBe(0);
    for (const step of ["check", "snapshot", "maintenance", "code", "upgrade", "caches", "maintenance-off", "ready"]) expect(r.stderr).toMatch(new RegExp(`✓ ${step} \\(`));
    // --json keeps stderr to steps; Moodle's own output is in the operation's log.
    const logs = fs.readdirSync(path.join(home, "operations", SITE)).map((f) => fs.readFileSync(path.join(home, "operations", SITE, f), "utf8"));
    expect(logs.find((l) => l.includes('"op":"upgrade"') && l.includes('"type":"done"'))).toMatch(/Command line upgrade from 5\.0\.0 \(Build: 20250414\) \(2025041400\.00\) to 5\.1\.0 \(Build: 20251006\) \(2025100600\.00\) completed successfully/);
    const view = JSON.parse(r.stdout);
    expect(view).toMatchObject({ name: SITE, moodle: "5.1", release: "5.1.0 (Build: 20251006)", build: ids.b, status: "running" });
    expect(view.upgrade).toEqual({ available: true, to: ids.c });
    expect(record(SITE).source).toMatchObject({ buildId: ids.b, publicDir: true, version: "2025100600.00" });
    expect(await siteValue(SITE, "version")).toBe("2025100600.00");
    expect(await siteValue(SITE, "maintenance")).toBe("0");

    const p = await page(port);
    expect(p.moodledata_counter).toBe(5);
    expect(p.db_visits).toBe(5);
    expect(p.site).toBe(`Moodle ${SITE}`);
    expect((await get(port, "/login/index.php")).status).toBe(200);
    expect(fs.readFileSync(path.join(home, "instances", SITE, "config", "nginx-1.22", "site.conf"), "utf8")).toMatch(/root \/var\/www\/moodle\/public;/);
    expect(fs.existsSync(code(SITE, "public", "local", "keep", "version.php"))).toBe(true);
    expectSubplugins(SITE, ids.b);
    const done = logs.find((l) => l.includes('"op":"upgrade"') && l.includes('"type":"done"')) ?? "";
    expect(done).toMatch(/added plugin mod_withsubs with its subplugins withsubspart_good supports the target: carried over/);
    expect(done).toMatch(/carried assignishsub_extra over \(mod\/assignish\/sub\/extra → public\/mod\/assignish\/sub\/extra\)/);
    expect(fs.statSync(code(SITE, "public", "index.php")).ino).toBe(fs.statSync(tree(ids.b, "public", "index.php")).ino);
    for (const id of [ids.a, ids.b]) {
      expect(fs.statSync(tree(id, "lib", "setup.php")).uid).toBe(0);
      expect(fs.existsSync(tree(id, "public", "local")) || fs.existsSync(tree(id, "local"))).toBe(false);
    }
    const builds = await run(["moodle", "list"]);
    expect(builds.find((b: { id: string }) => b.id === ids.b).usedBy).toEqual([SITE]);
    expect(builds.find((b: { id: string }) => b.id === ids.a).usedBy).toEqual([]);
    const snaps = await run(["snapshot", "list", SITE]);
    expect(snaps.filter((s: { id: string }) => s.id.endsWith("-pre-upgrade"))).toHaveLength(2);
  });

  it("refuses a downgrade afterwards, and the next create of the new build still comes from its template", async () => {
    const down = await cli(["upgrade", SITE, "--to", ids.a], env);
    expect(down.code).toBe(2);
    expect(down.stderr.trim().split("\n")).toHaveLength(1);
    expect(down.stderr).toMatch(/older than .*; Moodle cannot downgrade/);

    made.add(FRESH);
    await run(["create", FRESH, "--moodle", ids.b]);
    expect(record(FRESH).install.fromTemplate).toBe(true);
  });
});
