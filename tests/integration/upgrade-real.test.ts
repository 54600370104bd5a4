import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { cli, tempHome } from "../helpers/cli";
import { Jar, moodleLogin, request } from "../helpers/moodle";

/**
 * Issue #14's real upgrades, run when MOODLE_UPGRADE_PACKAGES names a folder holding real
 * moodle-4.1.tgz, moodle-4.5.tgz, moodle-5.0.tgz and moodle-5.1.tgz (CI has none: the fixture builds in
 * upgrade.test.ts cover the mechanism there). Each site gets a course, users and an uploaded file
 * from a blueprint before the upgrade; afterwards all three are there and the admin logs in
 * through the site's own form on its published 127.0.0.1 port.
 *   - 4.1 → 4.5 in place, which switches PHP 7.4 → 8.2;
 *   - 4.5 → 5.1 in place, which moves the web root to public/;
 *   - 4.5 → 5.0 with --clone: the clone is upgraded, the source stays on 4.5 and keeps serving.
 * Run one at a time on a loaded machine: `-t "4.1"`, `-t "5.1 in place"` or `-t "clone"`. Step times are printed.
 */
const packages = process.env.MOODLE_UPGRADE_PACKAGES;
// Only when the cases run: a skipped file left an empty temp folder behind on every run.
const home = packages ? tempHome("mdind-upgrade-real-") : "";
const env = { MDIND_HOME: home, MDIND_MOODLE_SOURCES: path.join(home, "no-sources") };
const sfx = process.pid.toString(36).slice(-4);
const made = new Set<string>();
const times: string[] = [];
const FILE_TEXT = "mdind upgrade rehearsal: uploaded before the upgrade";
const LONG = 3_600_000;

/** Course, users, enrolments, a page, and a file uploaded into the admin's private files. */
const BLUEPRINT = {
  steps: [
    { step: "createCategory", name: "Upgrade rehearsal", idnumber: "upg-dept" },
    { step: "createCourse", fullname: "Kept across upgrades", shortname: "UPG101", category: "upg-dept", numsections: 3 },
    {
      step: "createUsers",
      users: [
        { username: "upgteacher", password: "Teacher-123!", firstname: "Una", lastname: "Teacher", email: "upgteacher@example.com" },
        { username: "upgstudent", password: "Student-123!", firstname: "Ugo", lastname: "Student", email: "upgstudent@example.com" },
      ],
    },
    { step: "enrolUser", username: "upgteacher", course: "UPG101", role: "editingteacher" },
    { step: "enrolUser", username: "upgstudent", course: "UPG101" },
    { step: "addModule", module: "page", course: "UPG101", name: "Before the upgrade", content: "<p>Written before the upgrade.</p>" },
    {
      step: "runPhpCode",
      code:
        "<?php $admin = get_admin(); $fs = get_file_storage(); $ctx = context_user::instance($admin->id); " +
        "if (!$fs->file_exists($ctx->id, 'user', 'private', 0, '/', 'handout.txt')) { " +
        "$fs->create_file_from_string(['contextid' => $ctx->id, 'component' => 'user', 'filearea' => 'private', 'itemid' => 0, 'filepath' => '/', 'filename' => 'handout.txt'], " +
        `'${FILE_TEXT}'); } echo 'contextid=' . $ctx->id;`,
    },
  ],
};

async function run(args: string[], label: string) {
  const t0 = Date.now();
  const r = await cli([...args, "--json"], env, LONG);
  const steps = [...r.stderr.matchAll(/✓ ([a-z-]+(?: [^(]+)?) \(([\d.]+) s\)/g)].map((m) => `${m[1].trim()} ${m[2]} s`);
  times.push(`${label}: ${((Date.now() - t0) / 1000).toFixed(1)} s (${steps.join(", ")})`);
  if (r.code !== 0) throw new Error(`${args.join(" ")} failed (${r.code}): ${r.stderr.slice(-4000)}`);
  return JSON.parse(r.stdout);
}

/** One query through psql in the site's db container (fixed text, no input). */
function sql(name: string, query: string): string[] {
  const r = spawnSync("docker", ["exec", "-u", "postgres", `mdind-${name}-db`, "psql", "-U", "postgres", "-d", "moodle", "-At", "-F", "|", "-c", query], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`psql on ${name}: ${r.stderr}`);
  return r.stdout.split("\n").map((l) => l.trim()).filter(Boolean);
}

function php(name: string): string {
  return spawnSync("docker", ["exec", `mdind-${name}-app`, "php", "-r", "echo PHP_VERSION;"], { encoding: "utf8" }).stdout.trim();
}

async function admin(name: string) {
  const r = await cli(["info", name, "--show-password", "--json"], env);
  return JSON.parse(r.stdout) as { port: number; admin: { username: string; password: string } };
}

/**
 * What the blueprint made is all there, and the admin logs in through the site's form and gets
 * the course page and the uploaded file back over HTTP. Returns Moodle's own release.
 */
async function expectKept(name: string): Promise<string> {
  expect(sql(name, "SELECT fullname FROM mdl_course WHERE shortname = 'UPG101'")).toEqual(["Kept across upgrades"]);
  expect(sql(name, "SELECT username FROM mdl_user WHERE username LIKE 'upg%' AND deleted = 0 ORDER BY username")).toEqual(["upgstudent", "upgteacher"]);
  expect(sql(name, "SELECT count(*) FROM mdl_user_enrolments ue JOIN mdl_enrol e ON e.id = ue.enrolid JOIN mdl_course c ON c.id = e.courseid WHERE c.shortname = 'UPG101'")).toEqual(["2"]);
  const [ctx] = sql(name, "SELECT c.id FROM mdl_context c JOIN mdl_user u ON u.id = c.instanceid AND c.contextlevel = 30 WHERE u.username = 'admin'");
  const info = await admin(name);
  const jar = new Jar();
  expect(await moodleLogin(info.port, jar, info.admin.username, info.admin.password)).toBe(true);
  const course = await request(info.port, "GET", "/course/view.php?name=UPG101", jar);
  expect(course.status).toBe(200);
  expect(course.body.includes("Before the upgrade")).toBe(true);
  const file = await request(info.port, "GET", `/pluginfile.php/${ctx}/user/private/handout.txt`, jar);
  expect(file.status).toBe(200);
  expect(file.body).toBe(FILE_TEXT);
  const [release] = sql(name, "SELECT value FROM mdl_config WHERE name = 'release'");
  return release;
}

const added = new Set<string>();
/** Only the builds a case needs go into the library, so one case alone adds no more. */
async function addBuilds(...branches: string[]) {
  for (const b of branches.filter((x) => !added.has(x))) {
    await run(["moodle", "add", path.join(packages ?? "", `moodle-${b}.tgz`)], `moodle add ${b}`);
    added.add(b);
  }
}

async function createWithBlueprint(name: string, args: string[]) {
  made.add(name);
  const bp = path.join(home, "blueprint.json");
  fs.writeFileSync(bp, JSON.stringify(BLUEPRINT));
  return run(["create", name, ...args, "--blueprint", bp, "--allow-unsafe"], `create ${name} ${args.join(" ")}`);
}

describe.runIf(packages)("real Moodle upgrades (MOODLE_UPGRADE_PACKAGES)", () => {
  afterAll(async () => {
    process.stdout.write(`real upgrade times:\n  ${times.join("\n  ")}\n`);
    for (const n of made) await cli(["remove", n, "--yes"], env);
    fs.rmSync(home, { recursive: true, force: true });
  }, 600_000);

  it("4.1 → 4.5 in place switches PHP 7.4 → 8.2 and keeps course, users and the uploaded file", async () => {
    const name = `upr41-${sfx}`;
    await addBuilds("4.1", "4.5");
    await createWithBlueprint(name, ["--moodle", "4.1", "--db", "postgres:13"]);
    expect(php(name)).toMatch(/^7\.4\./);
    expect(await expectKept(name)).toMatch(/^4\.1\./);

    const view = await run(["upgrade", name, "--to", "4.5"], `upgrade ${name} 4.1 → 4.5`);
    expect(view).toMatchObject({ name, moodle: "4.5", status: "running" });
    expect(view.release).toMatch(/^4\.5\./);
    expect(php(name)).toMatch(/^8\.2\./);
    const rec = JSON.parse(fs.readFileSync(path.join(home, "instances", name, "instance.json"), "utf8"));
    expect(rec.spec.php).toBe("8.2");
    // The old PHP's config folder is kept beside the new one, as the PHP switch does.
    expect(fs.existsSync(path.join(home, "instances", name, "config", "php-7.4"))).toBe(true);
    expect(fs.existsSync(path.join(home, "instances", name, "config", "php-8.2"))).toBe(true);
    expect(await expectKept(name)).toMatch(/^4\.5\./);
  }, LONG);

  it("4.5 → 5.1 in place moves the web root to public/ and keeps course, users and the uploaded file", async () => {
    const name = `upr51-${sfx}`;
    await addBuilds("4.5", "5.1");
    await createWithBlueprint(name, ["--moodle", "4.5", "--db", "postgres:15"]);
    expect(await expectKept(name)).toMatch(/^4\.5\./);

    const view = await run(["upgrade", name, "--to", "5.1"], `upgrade ${name} 4.5 → 5.1`);
    expect(view).toMatchObject({ name, moodle: "5.1", status: "running" });
    expect(view.release).toMatch(/^5\.1/);
    const rec = JSON.parse(fs.readFileSync(path.join(home, "instances", name, "instance.json"), "utf8"));
    expect(rec.source.publicDir).toBe(true);
    expect(await expectKept(name)).toMatch(/^5\.1/);
  }, LONG);

  it("4.5 → 5.0 with --clone upgrades the clone; the source stays on 4.5 and keeps serving", async () => {
    const name = `upr45-${sfx}`;
    const clone = `upr50-${sfx}`;
    await addBuilds("4.5", "5.0");
    await createWithBlueprint(name, ["--moodle", "4.5", "--db", "postgres:15"]);
    expect(await expectKept(name)).toMatch(/^4\.5\./);

    made.add(clone);
    const view = await run(["upgrade", name, "--to", "5.0", "--clone", clone], `upgrade --clone ${clone} 4.5 → 5.0`);
    expect(view).toMatchObject({ name: clone, moodle: "5.0", status: "running" });
    expect(await expectKept(clone)).toMatch(/^5\.0\./);

    const src = await run(["info", name], `info ${name}`);
    expect(src).toMatchObject({ moodle: "4.5", status: "running" });
    expect(src.release).toMatch(/^4\.5\./);
    expect(await expectKept(name)).toMatch(/^4\.5\./);
  }, LONG);
});
