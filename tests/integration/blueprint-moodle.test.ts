import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import path from "node:path";
import { PassThrough } from "node:stream";
import Docker from "dockerode";
import type { ApplyResult } from "../../instances/blueprint";
import { cli, ROOT, tempHome } from "../helpers/cli";

/**
 * The "With MOODLE_SOURCE" suite: the demo blueprint and the demo bundle applied to a real
 * Moodle 5.1 instance through the real CLI, checked in Moodle's own database and plugin list. Runs only
 * when MOODLE_SOURCE names a Moodle 5.1 tree (it needs real Moodle code, which is never committed).
 */
const SOURCE = process.env.MOODLE_SOURCE;
const home = tempHome("mdind-bpm-");
const env: Record<string, string> = { MDIND_HOME: home, ...(SOURCE ? { MOODLE_SOURCE: SOURCE } : {}) };
const docker = new Docker();
const NAME = `bpm-${process.pid.toString(36).slice(-4)}`;
const DEMO = path.join(ROOT, "docs/examples/demo-blueprint.json");
const BUNDLE = path.join(ROOT, "docs/examples/demo-bundle");

async function execOut(container: string, cmd: string[], user?: string): Promise<{ code: number; out: string }> {
  const exec = await docker.getContainer(container).exec({ Cmd: cmd, User: user, WorkingDir: user ? "/var/www/moodle" : undefined, AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({});
  const out = new PassThrough();
  let text = "";
  out.on("data", (d: Buffer) => (text += d.toString()));
  docker.modem.demuxStream(stream, out, out);
  await new Promise<void>((resolve) => stream.on("end", resolve));
  return { code: (await exec.inspect()).ExitCode ?? -1, out: text };
}

/** One SQL query (fixed text, no input) through psql in the instance's db container. */
async function sql(query: string): Promise<string[]> {
  const r = await execOut(`mdind-${NAME}-db`, ["psql", "-U", "moodle", "-d", "moodle", "-At", "-F", "|", "-c", query]);
  if (r.code !== 0) throw new Error(`psql failed: ${r.out}`);
  return r.out.split("\n").map((l) => l.trim()).filter(Boolean);
}

/** What the demo blueprint declares, as rows from Moodle's tables; compared before/after a re-apply. */
async function snapshot() {
  return {
    category: await sql("SELECT name, idnumber FROM mdl_course_categories WHERE idnumber = 'demo-dept'"),
    courses: await sql("SELECT c.shortname, c.fullname, c.format, cc.idnumber FROM mdl_course c JOIN mdl_course_categories cc ON cc.id = c.category WHERE c.shortname IN ('DEMO101','DEMO201') ORDER BY c.shortname"),
    users: await sql("SELECT username, firstname, lastname, email FROM mdl_user WHERE username IN ('teacher1','student1','student2') AND deleted = 0 ORDER BY username"),
    enrolments: await sql(
      "SELECT c.shortname, u.username, r.shortname FROM mdl_user_enrolments ue JOIN mdl_enrol e ON e.id = ue.enrolid JOIN mdl_course c ON c.id = e.courseid " +
        "JOIN mdl_user u ON u.id = ue.userid JOIN mdl_context ctx ON ctx.instanceid = c.id AND ctx.contextlevel = 50 " +
        "JOIN mdl_role_assignments ra ON ra.contextid = ctx.id AND ra.userid = u.id JOIN mdl_role r ON r.id = ra.roleid " +
        "WHERE c.shortname IN ('DEMO101','DEMO201') ORDER BY c.shortname, u.username",
    ),
    enrolRows: await sql("SELECT count(*) FROM mdl_user_enrolments ue JOIN mdl_enrol e ON e.id = ue.enrolid JOIN mdl_course c ON c.id = e.courseid WHERE c.shortname IN ('DEMO101','DEMO201')"),
    pages: await sql("SELECT p.name FROM mdl_page p JOIN mdl_course c ON c.id = p.course WHERE c.shortname = 'DEMO101'"),
    badges: await sql("SELECT value FROM mdl_config WHERE name = 'enablebadges'"),
    courseCount: await sql("SELECT count(*) FROM mdl_course"),
    userCount: await sql("SELECT count(*) FROM mdl_user"),
  };
}

async function apply(target: string, flags: string[] = []) {
  const started = Date.now();
  const r = await cli(["blueprint", "apply", NAME, target, "--json", ...flags], env, 1_200_000);
  const seconds = (Date.now() - started) / 1000;
  process.stderr.write(`[blueprint-moodle] apply ${path.basename(target)} ${flags.join(" ")}: exit ${r.code} in ${seconds.toFixed(1)} s\n`);
  return { ...r, out: r.code === 0 ? (JSON.parse(r.stdout) as ApplyResult) : null, seconds };
}

let createStderr = "";

describe.runIf(SOURCE)("blueprints on real Moodle 5.1 (MOODLE_SOURCE)", () => {
  beforeAll(async () => {
    await docker.ping();
    const started = Date.now();
    // create --blueprint: the demo blueprint runs inside the create operation, after the site install.
    const r = await cli(["create", NAME, "--moodle", "5.1", "--blueprint", DEMO, "--json"], env, 1_500_000);
    process.stderr.write(`[blueprint-moodle] create --moodle 5.1 --blueprint demo: exit ${r.code} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    if (r.code !== 0) throw new Error(`create failed (${r.code}): ${r.stderr.slice(-3000)}`);
    createStderr = r.stderr;
  }, 1_500_000);
  afterAll(async () => {
    await cli(["remove", NAME, "--yes", "--json"], env);
    fs.rmSync(home, { recursive: true, force: true });
  }, 300_000);

  it("create --blueprint applies the demo blueprint: category, courses, users, enrolments, page and setting exist", async () => {
    expect(createStderr).toMatch(/✓ install/);
    expect(createStderr).toMatch(/✓ blueprint 13\/14 addModule/);
    const marker = JSON.parse(fs.readFileSync(path.join(home, "instances", NAME, "blueprint-applied.json"), "utf8"));
    expect(marker.hash).toMatch(/^[0-9a-f]{64}$/);
    const s = await snapshot();
    expect(s.category).toEqual(["Demo department|demo-dept"]);
    expect(s.courses).toEqual(["DEMO101|Introduction to Moodle|topics|demo-dept", "DEMO201|Advanced Moodle|weeks|demo-dept"]);
    expect(s.users).toEqual(["student1|Sam|Student|student1@example.com", "student2|Sasha|Student|student2@example.com", "teacher1|Tess|Teacher|teacher1@example.com"]);
    expect(s.enrolments).toEqual([
      "DEMO101|student1|student",
      "DEMO101|student2|student",
      "DEMO101|teacher1|editingteacher",
      "DEMO201|student1|student",
      "DEMO201|teacher1|editingteacher",
    ]);
    expect(s.enrolRows).toEqual(["5"]);
    expect(s.pages).toEqual(["Welcome"]);
    expect(s.badges).toEqual(["0"]);
    // The teacher can log in with the blueprint's password (checked by Moodle's own hashing), and it is not in any log.
    const login = await execOut(`mdind-${NAME}-app`, ["php", "-r", "define('CLI_SCRIPT', true); require '/var/www/moodle/config.php'; echo authenticate_user_login('teacher1', 'Teacher-123!', false, $reason) ? 'ok' : 'no';"], "www-data");
    expect(login.out.trim().split("\n").pop()).toBe("ok");
    const opsDir = path.join(home, "operations", NAME);
    for (const f of fs.readdirSync(opsDir)) expect(fs.readFileSync(path.join(opsDir, f), "utf8")).not.toContain("Teacher-123!");
  });

  it("changes nothing when applied again (marker), nor when forced (every step converges)", async () => {
    const before = await snapshot();
    const again = await apply(DEMO);
    expect(again.code, again.stderr.slice(-3000)).toBe(0);
    expect(again.out?.status).toBe("unchanged");
    expect(await snapshot()).toEqual(before);

    const forced = await apply(DEMO, ["--force"]);
    expect(forced.code, forced.stderr.slice(-3000)).toBe(0);
    expect(forced.out?.status).toBe("applied");
    expect(forced.out?.changed).toBe(false);
    expect(forced.out?.steps.filter((st: { changed: boolean }) => st.changed)).toEqual([]);
    expect(await snapshot()).toEqual(before);
  });

  it("installs the demo bundle's plugin ZIP, which then appears in Moodle's plugin list", async () => {
    const r = await apply(BUNDLE);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    expect(r.out?.status).toBe("applied");
    const plugin = r.out?.steps.find((st: { name: string }) => st.name === "installMoodlePlugin");
    expect(plugin?.changed).toBe(true);
    expect(plugin?.detail).toMatch(/local_mdinddemo installed in public\/local\/mdinddemo/);

    const code = path.join(home, "instances", NAME, "data", "code");
    expect(fs.existsSync(path.join(code, "public", "local", "mdinddemo", "version.php"))).toBe(true);
    expect(fs.statSync(path.join(code, "public", "local", "mdinddemo", "version.php")).uid).toBe(33);
    const list = await execOut(`mdind-${NAME}-app`, ["php", "admin/cli/uninstall_plugins.php", "--show-all"], "www-data");
    expect(list.out).toMatch(/local_mdinddemo/);
    expect(await sql("SELECT value FROM mdl_config_plugins WHERE plugin = 'local_mdinddemo' AND name = 'version'")).toEqual(["2025010100"]);
    // Moodle adds the Announcements (news) forum to a course by itself; the blueprint's own modules are the rest.
    expect(await sql("SELECT m.name FROM mdl_course_modules cm JOIN mdl_modules m ON m.id = cm.module JOIN mdl_course c ON c.id = cm.course WHERE c.shortname = 'BUNDLE1' AND m.name <> 'forum' ORDER BY m.name")).toEqual(["label", "url"]);
    expect(await sql("SELECT f.name, f.type FROM mdl_forum f JOIN mdl_course c ON c.id = f.course WHERE c.shortname = 'BUNDLE1' AND f.type <> 'news'")).toEqual(["Questions|qanda"]);
    expect(await sql("SELECT count(*) FROM mdl_cohort WHERE idnumber = 'bundle-cohort'")).toEqual(["1"]);

    const forced = await apply(BUNDLE, ["--force"]);
    expect(forced.code, forced.stderr.slice(-3000)).toBe(0);
    expect(forced.out?.changed).toBe(false);
    // Both blueprints are remembered: the demo is still a no-op after the bundle ran.
    expect((await apply(DEMO)).out?.status).toBe("unchanged");
  });
});
