import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkCronConf, cronConf, CRON_CONF, CRON_IDLE_DEFAULT, wakeCron } from "../../instances/cron";
import { renderAll, type RenderContext } from "../../instances/render";
import { restartFor } from "../../instances/configfiles";
import { parseCreateInput, resolveSpec } from "../../instances/spec";

/**
 * cron.conf is a file users edit (config/php-X), read by the cron loop in bash; the dashboard's
 * checker must accept exactly what the loop understands. The wake mark lives in moodledata, which
 * the instance's containers can write, so a planted link must not lead the dashboard out.
 */
describe("cron.conf", () => {
  it("is rendered into the php folder with the default and passes its own checker", () => {
    const spec = resolveSpec(parseCreateInput({ name: "cronsite", moodle: "5.1", php: "8.2" }), "5.1");
    const ctx: RenderContext = { spec, port: 8001, n: 1, publicHost: "127.0.0.1", publicDir: true, dbPassword: "pw", smtpHost: "x:1025" };
    const file = renderAll(ctx).find((f) => f.file === CRON_CONF);
    expect(file?.dir).toBe(`php-${spec.php}`);
    expect(file?.content).toMatch(new RegExp(`^idle_minutes = ${CRON_IDLE_DEFAULT}$`, "m"));
    expect(checkCronConf(file!.content)).toEqual({ ok: true, output: "cron.conf parser passed" });
    expect(checkCronConf(cronConf("x", 0)).ok).toBe(true);
  });

  it("needs no restart: the loop reads it at every tick", () => {
    expect(restartFor("php-8.2", CRON_CONF)).toEqual([]);
    expect(restartFor("php-8.2", "php.ini")).toEqual(["app", "cron"]);
  });

  it.each([
    ["a shell substitution", "idle_minutes = $(touch /tmp/pwned)"],
    ["backticks", "idle_minutes = `id`"],
    ["a second command", "idle_minutes = 5; rm -rf /"],
    ["a negative value", "idle_minutes = -1"],
    ["more than a day", "idle_minutes = 1441"],
    ["too many digits", "idle_minutes = 000010"],
    ["a unit", "idle_minutes = 10m"],
    ["an unknown key", "cron_every = 5"],
    ["a bash assignment", "IDLE=5"],
    ["a newline in the value", "idle_minutes = 5\nexec bash"],
    ["a NUL", "idle_minutes = 5\u0000"],
  ])("refuses %s", (_what, line) => {
    const r = checkCronConf(`# ok\n${line}\n`);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/line \d+/);
  });

  it("accepts comments, blank lines, spaces and the bounds", () => {
    expect(checkCronConf("\n# c\n  idle_minutes=0  \n").ok).toBe(true);
    expect(checkCronConf("idle_minutes =1440").ok).toBe(true);
  });
});

describe("wakeCron", () => {
  let tmp: string;
  const saved = { ...process.env };
  const moodledata = (name: string) => path.join(tmp, "instances", name, "data", "moodledata");
  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-cron-"));
    process.env.MDIND_HOME = tmp;
  });
  afterAll(() => {
    process.env = { ...saved };
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  it("creates the mark, then moves its time forward", async () => {
    fs.mkdirSync(moodledata("a"), { recursive: true });
    expect(await wakeCron("a")).toBe(true);
    const mark = path.join(moodledata("a"), ".mdind-cron-wake");
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(mark, old, old);
    expect(await wakeCron("a")).toBe(true);
    expect(Date.now() - fs.statSync(mark).mtimeMs).toBeLessThan(10_000);
  });

  it("never touches what a planted link points at", async () => {
    fs.mkdirSync(moodledata("b"), { recursive: true });
    const target = path.join(tmp, "host-file");
    fs.writeFileSync(target, "host\n");
    const old = new Date(Date.now() - 3600_000);
    fs.utimesSync(target, old, old);
    fs.symlinkSync(target, path.join(moodledata("b"), ".mdind-cron-wake"));
    expect(await wakeCron("b")).toBe(false);
    expect(Math.abs(fs.statSync(target).mtimeMs - old.getTime())).toBeLessThan(1000);
  });
});
