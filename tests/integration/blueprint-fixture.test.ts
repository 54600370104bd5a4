import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import zlib from "node:zlib";
import Docker from "dockerode";
import type { ApplyResult } from "../../instances/blueprint";
import { cli, ROOT, tempHome } from "../helpers/cli";

/**
 * The blueprint runner's plumbing against the real engine with the CI fixture app, through the real
 * CLI. The fixture cannot run Moodle APIs, so MDIND_BLUEPRINT_STEP_SCRIPT swaps the PHP step script for
 * tests/fixture-app/admin/cli/blueprint_step_stub.php, which speaks the same STDIN/STDOUT protocol and
 * records every step it receives in moodledata/blueprint-steps.log. Everything else is the production
 * path: parse, policy, operation channel, copy into the container, execIn as www-data, marker.
 */
const home = tempHome("mdind-bp-");
const env = { MDIND_HOME: home, MDIND_BLUEPRINT_STEP_SCRIPT: path.join(ROOT, "tests/fixture-app/admin/cli/blueprint_step_stub.php") };
const docker = new Docker();
const NAME = `bpfix-${process.pid.toString(36).slice(-4)}`;
const work = tempHome("mdind-bp-files-");
const SECRET = "Zq9-very-secret-pass";
const SECRET2 = "Other-secret-777";

const instanceDir = () => path.join(home, "instances", NAME);
const moodledata = () => path.join(instanceDir(), "data", "moodledata");
const codeDir = () => path.join(instanceDir(), "data", "code");

interface StubLine {
  step: string;
  label: string | null;
  uid: number;
  user: string;
  root: string;
  resources: Record<string, string>;
  gotSecret: boolean;
}
function stubLog(): StubLine[] {
  const f = path.join(moodledata(), "blueprint-steps.log");
  if (!fs.existsSync(f)) return [];
  return fs.readFileSync(f, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as StubLine);
}

/** Lines of the most recent operation log of the instance (operations/<name>/<opId>.ndjson). */
function newestOpLog(): string[] {
  const dir = path.join(home, "operations", NAME);
  const newest = fs
    .readdirSync(dir)
    .map((f) => ({ f, t: fs.statSync(path.join(dir, f)).mtimeMs }))
    .sort((a, b) => b.t - a.t)[0];
  return fs.readFileSync(path.join(dir, newest.f), "utf8").split("\n").filter(Boolean);
}

function writeJson(name: string, doc: unknown): string {
  const p = path.join(work, name);
  fs.writeFileSync(p, JSON.stringify(doc, null, 2));
  return p;
}

async function apply(file: string, flags: string[] = []) {
  const r = await cli(["blueprint", "apply", NAME, file, "--json", ...flags], env);
  let out: ApplyResult | null = null;
  try {
    out = JSON.parse(r.stdout) as ApplyResult;
  } catch {
    out = null;
  }
  return { ...r, out };
}

/** Minimal ZIP writer (stored entries), so hostile names can be built byte for byte. */
function makeZip(entries: { name: string; data?: string; mode?: number }[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const raw = Buffer.from(e.data ?? "");
    const name = Buffer.from(e.name, "utf8");
    const crc = zlib.crc32(raw);
    const mode = e.mode ?? (e.name.endsWith("/") ? 0o040755 : 0o100644);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(raw.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(raw.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE((mode << 16) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, raw);
    centrals.push(central, name);
    offset += local.length + name.length + raw.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, eocd]);
}

/** Every file under a folder (relative paths), to prove a refused run wrote nothing. */
function listTree(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const d of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const r = rel ? `${rel}/${d.name}` : d.name;
      if (d.isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk("");
  return out.sort();
}

const backupBytes = Buffer.from("pretend this is a course backup (.mbz)");
const mainBlueprint = {
  constants: { TEACHER_PW: SECRET },
  steps: [
    { step: "setLandingPage", path: "/my/" },
    { step: "setConfig", name: "enablebadges", value: "0" },
    { step: "createUser", username: "teacher1", password: "{{TEACHER_PW}}", firstname: "Tess" },
    { step: "createCourse", fullname: "Course one", shortname: "C101" },
    { step: "restoreCourse", data: { base64: backupBytes.toString("base64") }, shortname: "RESTORED" },
    { step: "login", username: "admin" },
  ],
};

describe("blueprints on a fixture instance (runner plumbing)", () => {
  beforeAll(async () => {
    await docker.ping();
    const r = await cli(["create", NAME, "--moodle", "fixture", "--json"], env);
    if (r.code !== 0) throw new Error(`create failed (${r.code}): ${r.stderr}`);
  });
  afterAll(async () => {
    await cli(["remove", NAME, "--yes", "--json"], env);
    fs.rmSync(home, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
  });

  it("runs the steps in order inside the app container as www-data, with resources materialised", async () => {
    const r = await apply(writeJson("main.json", mainBlueprint));
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.status).toBe("applied");
    const lines = stubLog();
    expect(lines.map((l) => l.step)).toEqual(["setConfig", "createUser", "createCourse", "restoreCourse"]);
    for (const l of lines) {
      expect(l.uid).toBe(33);
      expect(l.user).toBe("www-data");
      expect(l.root).toBe("/var/www/moodle");
    }
    expect(lines[1].gotSecret).toBe(true); // the password reached the step (on STDIN)…
    expect(lines[3].resources.data).toBe(createHash("sha256").update(backupBytes).digest("hex"));
    // Progress went through the operation channel, one step per blueprint step, no-ops logged as skipped.
    expect(r.stderr).toMatch(/blueprint 2\/6 setConfig/);
    expect(r.stderr).toMatch(/blueprint 5\/6 restoreCourse/);
    const events = newestOpLog().map((l) => JSON.parse(l));
    expect(events.find((e) => e.type === "log" && e.step === "blueprint 1/6 setLandingPage")?.message).toMatch(/^skipped/);
    expect(events.filter((e) => e.type === "step" && e.status === "done").map((e) => e.step)).toEqual([
      "blueprint 2/6 setConfig",
      "blueprint 3/6 createUser",
      "blueprint 4/6 createCourse",
      "blueprint 5/6 restoreCourse",
    ]);
    const marker = JSON.parse(fs.readFileSync(path.join(instanceDir(), "blueprint-applied.json"), "utf8"));
    expect(marker.hash).toBe(r.out?.hash);
    // The per-run scratch folder (script copy, materialised resources) is gone.
    expect(fs.readdirSync(path.join(moodledata(), ".mdind-blueprint"))).toEqual([]);
  });

  it("treats a re-applied blueprint as a no-op (key order and whitespace do not matter), and --force re-runs it", async () => {
    const reordered = JSON.parse(JSON.stringify(mainBlueprint, ["steps", "constants", "TEACHER_PW", "step", "value", "name", "username", "password", "firstname", "shortname", "fullname", "data", "base64", "path"]));
    const file = path.join(work, "main-reordered.json");
    fs.writeFileSync(file, JSON.stringify(reordered));
    const before = stubLog().length;
    const again = await apply(file);
    expect(again.code, again.stderr).toBe(0);
    expect(again.out?.status).toBe("unchanged");
    expect(stubLog().length).toBe(before);

    const forced = await apply(file, ["--force"]);
    expect(forced.code, forced.stderr).toBe(0);
    expect(forced.out?.status).toBe("applied");
    expect(stubLog().slice(before).map((l) => l.step)).toEqual(["setConfig", "createUser", "createCourse", "restoreCourse"]);
  });

  const failing = {
    steps: [
      { step: "setConfig", name: "first_setting", value: "1" },
      { step: "setConfig", name: "fail_on_purpose", value: "1" },
      { step: "setConfig", name: "third_setting", value: "1" },
    ],
  };

  it("stops at a failing step with --on-error abort", async () => {
    const before = stubLog().length;
    const markerBefore = fs.readFileSync(path.join(instanceDir(), "blueprint-applied.json"), "utf8");
    const r = await apply(writeJson("failing.json", failing), ["--on-error", "abort"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/failed on purpose/);
    expect(stubLog().slice(before).map((l) => l.label)).toEqual(["first_setting", "fail_on_purpose"]);
    expect(fs.readFileSync(path.join(instanceDir(), "blueprint-applied.json"), "utf8")).toBe(markerBefore);
  });

  it("carries on past a failing step with --on-error warn, and reports the run as partial", async () => {
    const before = stubLog().length;
    const r = await apply(path.join(work, "failing.json"), ["--on-error", "warn"]);
    expect(r.code).toBe(1);
    expect(r.out?.status).toBe("partial");
    expect(r.out?.steps.map((s: { status: string }) => s.status)).toEqual(["done", "failed", "done"]);
    expect(stubLog().slice(before).map((l) => l.label)).toEqual(["first_setting", "fail_on_purpose", "third_setting"]);
  });

  it("refuses unsafe steps unless --allow-unsafe is given", async () => {
    const before = stubLog().length;
    const file = writeJson("unsafe.json", { steps: [{ step: "setConfig", name: "x", value: "1" }, { step: "runPhpCode", code: "<?php echo 1;" }] });
    const refused = await apply(file);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/runPhpCode.*refused unless unsafe steps are allowed/);
    expect(stubLog().length).toBe(before); // refused before anything ran

    const allowed = await apply(file, ["--allow-unsafe"]);
    expect(allowed.code, allowed.stderr).toBe(0);
    expect(stubLog().slice(before).map((l) => l.step)).toEqual(["setConfig", "runPhpCode"]);
  });

  it("hands every Playground step to the executor: nested resources materialised, file steps in moodledata, planted links refused", async () => {
    const before = stubLog().length;
    const xml = "<role><shortname>r1</shortname></role>";
    const fileBytes = "syllabus";
    const doc = {
      resources: { role: { literal: xml }, syl: { literal: fileBytes }, zip: { base64: makeZip([{ name: "z/a.txt", data: "A" }]).toString("base64") } },
      steps: [
        { step: "installMoodle", options: { siteName: "S", adminPass: "password" } },
        { step: "createSection", course: "C101", name: "Extra" },
        { step: "importRoles", roles: ["@role", { xml }] },
        { step: "createRole", shortname: "r2", capabilities: { "moodle/course:update": "allow" }, allowView: ["teacher"] },
        { step: "createScales", scales: { format: "moodle-scale-export", scales: [{ name: "S1", items: "a, b" }] } },
        { step: "createScale", name: "S2", items: ["x", "y"], course: "C101" },
        { step: "addModule", module: "resource", course: "C101", section: 1, name: "R", files: [{ filename: "s.txt", data: "@syl" }], colour: "unknown-to-us" },
        { step: "mkdir", path: "/persist/moodledata/bp/dir" },
        { step: "writeFile", path: "/persist/moodledata/bp/dir/f.txt", data: "hello" },
        { step: "copyFile", from: "/persist/moodledata/bp/dir/f.txt", to: "/persist/moodledata/bp/copy.txt" },
        { step: "unzip", data: "@zip", destination: "/persist/moodledata/bp/unz" },
        { step: "purgeMoodleCaches" },
      ],
    };
    const r = await apply(writeJson("every-step.json", doc));
    expect(r.code, r.stderr).toBe(0);
    expect(r.out?.warnings).toEqual(expect.arrayContaining([expect.stringMatching(/adminPass not applied/)]));
    const lines = stubLog().slice(before);
    expect(lines.map((l) => l.step)).toEqual([
      "installMoodle", "createSection", "importRoles", "createRole", "createScales", "createScale", "addModule", "purgeMoodleCaches",
    ]);
    const sha = (s: string) => createHash("sha256").update(s).digest("hex");
    expect(lines[2].resources).toEqual({ "roles.0": sha(xml), "roles.1": sha(xml) });
    expect(lines[6].resources).toEqual({ "files.0.data": sha(fileBytes) });
    // The file steps ran host-side, into the instance's moodledata, owned by the site's user.
    expect(fs.readFileSync(path.join(moodledata(), "bp/dir/f.txt"), "utf8")).toBe("hello");
    expect(fs.readFileSync(path.join(moodledata(), "bp/copy.txt"), "utf8")).toBe("hello");
    expect(fs.readFileSync(path.join(moodledata(), "bp/unz/z/a.txt"), "utf8")).toBe("A");
    expect(fs.statSync(path.join(moodledata(), "bp/dir/f.txt")).uid).toBe(33);

    // A link the site planted in moodledata, pointing out of it: the step fails naming it, nothing is written outside.
    const outside = fs.mkdtempSync(path.join(work, "outside-"));
    fs.symlinkSync(outside, path.join(moodledata(), "bp/evil"));
    const bad = await apply(writeJson("through-link.json", { steps: [{ step: "writeFile", path: "/persist/moodledata/bp/evil/pwned.php", data: "<?php" }] }));
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toMatch(/symbolic link/);
    expect(fs.readdirSync(outside)).toEqual([]);
    // Into the code tree only with --allow-unsafe.
    const code = await apply(writeJson("code.json", { steps: [{ step: "writeFile", path: "/www/moodle/local/bpnote.txt", data: "x" }] }));
    expect(code.code).toBe(2);
    expect(code.stderr).toMatch(/writes into the Moodle code tree and is refused unless unsafe steps are allowed/);
    expect(fs.existsSync(path.join(codeDir(), "local/bpnote.txt"))).toBe(false);
  });

  it("never writes secrets to the operation logs, even when a step's error message contains one", async () => {
    const file = writeJson("leak.json", {
      steps: [
        { step: "createUsers", users: [{ username: "s1", password: SECRET2 }] },
        { step: "createUser", username: "leak_secret", password: SECRET2 },
      ],
    });
    const r = await apply(file, ["--on-error", "warn"]);
    expect(r.out?.status).toBe("partial");
    expect(r.stderr).toMatch(/cannot use password \*{3,}/);
    const opsDir = path.join(home, "operations", NAME);
    const logs = fs.readdirSync(opsDir).filter((f) => f.endsWith(".ndjson"));
    const blueprintLogs = logs.map((f) => fs.readFileSync(path.join(opsDir, f), "utf8")).filter((t) => t.includes('"op":"blueprint"'));
    expect(blueprintLogs.length).toBeGreaterThanOrEqual(6);
    for (const text of blueprintLogs) {
      expect(text).not.toContain(SECRET);
      expect(text).not.toContain(SECRET2);
    }
    expect(r.stderr).not.toContain(SECRET2);
    expect(fs.readFileSync(path.join(instanceDir(), "blueprint-last.json"), "utf8")).not.toContain(SECRET2);
  });

  it("refuses hostile bundles with a clear message and writes nothing outside the allowed folders", async () => {
    const before = stubLog().length;
    const codeBefore = listTree(codeDir());
    // The stub's log, the dashboard's cron wake mark (set after every apply) and what the fixture's cron
    // writes when that mark wakes it are the product's own files, not anything a bundle wrote.
    const own = new Set(["blueprint-steps.log", ".mdind-cron-wake", "cron-runs.log", "cron-heartbeat.json"]);
    const dataBefore = listTree(moodledata()).filter((f) => !own.has(f));
    const blueprintJson = JSON.stringify({ steps: [{ step: "setConfig", name: "x", value: "1" }] });

    // A bundle ZIP with a zip-slip entry: refused while reading its directory, before any step runs.
    const slipBundle = path.join(work, "slip-bundle.zip");
    fs.writeFileSync(slipBundle, makeZip([{ name: "blueprint.json", data: blueprintJson }, { name: "../../escaped.txt", data: "pwned" }]));
    const a = await apply(slipBundle);
    expect(a.code).toBe(2);
    expect(a.stderr).toMatch(/slip-bundle\.zip: unsafe entry name/);
    expect(fs.existsSync(path.join(work, "..", "escaped.txt"))).toBe(false);

    // A bundle folder whose plugin ZIP tries to climb out of the plugin folder.
    const dir = path.join(work, "hostile-plugin-bundle");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "blueprint.json"), JSON.stringify({ steps: [{ step: "installMoodlePlugin", data: { bundled: "evil.zip" } }] }));
    fs.writeFileSync(
      path.join(dir, "evil.zip"),
      makeZip([
        { name: "local_evil/version.php", data: "<?php $plugin->component = 'local_evil';" },
        { name: "local_evil/../../../config.php", data: "<?php die('pwned');" },
      ]),
    );
    const b = await apply(dir);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/evil\.zip: unsafe entry name/);

    // A plugin ZIP with a symlink entry pointing at the host.
    const dir2 = path.join(work, "symlink-plugin-bundle");
    fs.mkdirSync(dir2);
    fs.writeFileSync(path.join(dir2, "blueprint.json"), JSON.stringify({ steps: [{ step: "installMoodlePlugin", data: "@p" }], resources: { p: { bundled: "link.zip" } } }));
    fs.writeFileSync(
      path.join(dir2, "link.zip"),
      makeZip([{ name: "local_link/version.php", data: "<?php $plugin->component = 'local_link';" }, { name: "local_link/secrets", data: "/etc", mode: 0o120777 }]),
    );
    const c = await apply(dir2);
    expect(c.code).toBe(2);
    expect(c.stderr).toMatch(/link\.zip: .*symbolic link|symlink/i);

    // A bundled path that escapes the bundle folder.
    const dir3 = path.join(work, "escaping-bundle");
    fs.mkdirSync(dir3);
    fs.writeFileSync(path.join(dir3, "blueprint.json"), JSON.stringify({ steps: [{ step: "restoreCourse", data: { bundled: "../main.json" } }] }));
    const d = await apply(dir3);
    expect(d.code).toBe(2);
    expect(d.stderr).toMatch(/bundled path/);

    expect(stubLog().length).toBe(before);
    expect(listTree(codeDir())).toEqual(codeBefore);
    expect(listTree(moodledata()).filter((f) => !own.has(f))).toEqual(dataBefore);
    expect(fs.existsSync(path.join(codeDir(), "public", "local", "evil"))).toBe(false);
    const localDir = path.join(codeDir(), "public", "local");
    if (fs.existsSync(localDir)) expect(fs.readdirSync(localDir).filter((f) => f.startsWith(".mdind-staging"))).toEqual([]);
  });
});
