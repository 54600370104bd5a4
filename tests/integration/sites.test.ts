import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import Docker from "dockerode";
import tar from "tar-stream";
import { createGzip } from "node:zlib";
import { pipeline } from "node:stream/promises";
import type { InstanceView } from "../../instances/query";
import { cli, get, tempHome } from "../helpers/cli";

/**
 * Site mechanisms with the fixture app on the real engine: install hook, template create and
 * restore, clone, export/import round trip, snapshots, hostile archives, and cron (heartbeat and
 * the no-overlap lock — checked last, while the rest ran, because it needs real minutes).
 */
const home = tempHome();
const env = { MDIND_HOME: home };
const docker = new Docker();
const sfx = process.pid.toString(36).slice(-4);
const [S1, S2, S3, S4] = ["one", "two", "three", "four"].map((n) => `site${n}-${sfx}`);
const made = new Set<string>();

async function run(args: string[]) {
  const r = await cli([...args, "--json"], env);
  if (r.code !== 0) throw new Error(`${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
const page = async (port: number) => JSON.parse((await get(port, "/")).body);

describe("site mechanisms", () => {
  let s1: InstanceView;
  const cronStarted = Date.now();
  beforeAll(async () => {
    await docker.ping();
    made.add(S1);
    s1 = await run(["create", S1, "--moodle", "fixture"]);
  });
  afterAll(async () => {
    for (const n of made) await cli(["remove", n, "--yes"], env);
    fs.rmSync(home, { recursive: true, force: true });
  });

  it("installs through the install hook and leaves a template", async () => {
    const p = await page(s1.port);
    expect(p.site).toBe(`Moodle ${S1}`);
    const rec = JSON.parse(fs.readFileSync(path.join(home, "instances", S1, "instance.json"), "utf8"));
    expect(rec.install.fromTemplate).toBe(false);
    const templates = fs.readdirSync(path.join(home, "cache", "templates")).filter((d) => !d.endsWith(".lock"));
    expect(templates).toHaveLength(1);
    expect(templates[0]).toMatch(/^fixture-.*-postgres-15$/);
    // Slow cron runs from now on, so the next minute's run must be skipped by the lock.
    fs.writeFileSync(path.join(home, "instances", S1, "data", "moodledata", "cron-sleep-seconds"), "75");
  });

  it("creates the next instance of the combination from the template, as its own site", async () => {
    made.add(S2);
    const t0 = Date.now();
    const s2 = await run(["create", S2, "--moodle", "fixture"]);
    process.stdout.write(`template: create ${S2} from template in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
    const rec = JSON.parse(fs.readFileSync(path.join(home, "instances", S2, "instance.json"), "utf8"));
    expect(rec.install.fromTemplate).toBe(true);
    const p = await page(s2.port);
    expect(p.site).toBe(`Moodle ${S2}`);
    expect(p.sessioncookie).not.toBe((await page(s1.port)).sessioncookie);
    // Its own DB password: the template's one no longer opens the database.
    const s1Secret = JSON.parse(fs.readFileSync(path.join(home, "instances", S1, "secrets.json"), "utf8")).dbPassword;
    const s2Secret = JSON.parse(fs.readFileSync(path.join(home, "instances", S2, "secrets.json"), "utf8")).dbPassword;
    expect(s2Secret).not.toBe(s1Secret);
  });

  it("clones an instance with its data into a new N, port and secrets", async () => {
    const before = await page(s1.port);
    made.add(S3);
    const s3 = await run(["clone", S1, S3]);
    expect(s3.n).not.toBe(s1.n);
    expect(s3.port).not.toBe(s1.port);
    const p = await page(s3.port);
    expect(p.db_visits).toBe(before.db_visits + 1);
    expect(p.moodledata_counter).toBe(before.moodledata_counter + 1);
    expect(p.site).toBe(`Moodle ${S1} (clone)`);
    const sec = (n: string) => JSON.parse(fs.readFileSync(path.join(home, "instances", n, "secrets.json"), "utf8"));
    expect(sec(S3).dbPassword).not.toBe(sec(S1).dbPassword);
    // The source keeps serving.
    expect((await page(s1.port)).db_visits).toBe(before.db_visits + 1);
  });

  it("round-trips an export through import with the data intact", async () => {
    const before = await page(s1.port);
    const file = path.join(home, "s1.tar.gz");
    const ex = await run(["export", S1, "--file", file]);
    expect(ex.bytes).toBeGreaterThan(1000);
    // config.php holds the database password: an export leaves it out, the importer writes its own.
    const entries = execFileSync("tar", ["-tzf", file], { encoding: "utf8" }).split("\n");
    expect(entries.filter((e) => e.startsWith("code/")).length).toBeGreaterThan(1);
    expect(entries).not.toContain("code/config.php");
    made.add(S4);
    const s4 = await run(["import", file, S4]);
    const p = await page(s4.port);
    expect(p.db_visits).toBe(before.db_visits + 1);
    expect(p.moodledata_counter).toBe(before.moodledata_counter + 1);
    expect(p.site).toBe(`Moodle ${S1}`);
    expect(p.wwwroot).toBe(`http://127.0.0.1:${s4.port}`);
  });

  it("restores a snapshot in place", async () => {
    const snap = await run(["snapshot", "create", S2, "before"]);
    const at = (await page((await run(["info", S2])).port)).db_visits;
    for (let i = 0; i < 3; i++) await page((await run(["info", S2])).port);
    await run(["snapshot", "restore", S2, snap.id]);
    const p = await page((await run(["info", S2])).port);
    expect(p.db_visits).toBe(at);
    const list = await run(["snapshot", "list", S2]);
    expect(list.map((s: { id: string }) => s.id)).toContain(snap.id);
  });

  it("refuses hostile archives on import and writes nothing outside", async () => {
    const canary = path.join(os.tmpdir(), `mdind-canary-${sfx}`);
    const cases: [string, (p: tar.Pack) => void][] = [
      ["dot-dot", (p) => p.entry({ name: "code/../../" + path.basename(canary) }, "x")],
      ["absolute", (p) => p.entry({ name: canary }, "x")],
      ["symlink", (p) => p.entry({ name: "moodledata/link", type: "symlink", linkname: "/etc" })],
      ["hardlink", (p) => p.entry({ name: "moodledata/hl", type: "link", linkname: "/etc/passwd" })],
      ["device", (p) => p.entry({ name: "moodledata/dev", type: "character-device", devmajor: 1, devminor: 3 })],
      ["foreign top", (p) => p.entry({ name: "etc/passwd" }, "x")],
    ];
    for (const [what, add] of cases) {
      const file = path.join(home, `hostile-${what.replace(/\W/g, "")}.tar.gz`);
      const pack = tar.pack();
      pack.entry({ name: "manifest.json" }, JSON.stringify({ format: 1 }));
      add(pack);
      pack.finalize();
      await pipeline(pack, createGzip(), fs.createWriteStream(file));
      const r = await cli(["import", file, `evil-${sfx}`], env);
      expect(r.code, what).not.toBe(0);
      expect(r.stderr, what).toMatch(/archive/);
      expect(fs.existsSync(canary), what).toBe(false);
      expect(fs.existsSync(path.join(home, "instances", `evil-${sfx}`)), what).toBe(false);
    }
  });

  it("runs cron every minute as www-data and never overlaps", async () => {
    const logDir = path.join(home, "instances", S1, "logs", "cron-8.2");
    const runs = path.join(home, "instances", S1, "data", "moodledata", "cron-runs.log");
    // The first run starts within a minute (plus the instance's offset); the second minute's run
    // falls while the first (75 s) still holds the lock.
    const deadline = Math.max(cronStarted + 200_000, Date.now() + 5_000);
    const cronLog = () => (fs.existsSync(path.join(logDir, "cron.log")) ? fs.readFileSync(path.join(logDir, "cron.log"), "utf8") : "");
    let sawSkip = false;
    for (;;) {
      sawSkip = /skipped=true/.test(cronLog());
      if (sawSkip || Date.now() > deadline) break;
      await new Promise((r) => setTimeout(r, 5000));
    }
    process.stdout.write(`cron: ${cronLog().trim().split("\n").length} ticks logged, skip seen: ${sawSkip}\n`);
    expect(fs.existsSync(runs)).toBe(true);
    const lines = fs.readFileSync(runs, "utf8").trim().split("\n");
    const starts = lines.filter((l) => l.startsWith("start"));
    expect(starts.length).toBeGreaterThanOrEqual(1);
    expect(sawSkip).toBe(true);
    // No two runs were ever inside cron.php at once: every start is followed by its own end.
    let open = 0;
    for (const l of lines) {
      open += l.startsWith("start") ? 1 : -1;
      expect(open).toBeLessThanOrEqual(1);
    }
    const owner = execFileSync("stat", ["-c", "%u", runs]).toString().trim();
    expect(owner).toBe("33");
    const info = await run(["info", S1]);
    expect(info.cron).toBeTruthy();
  }, 240_000);
});
