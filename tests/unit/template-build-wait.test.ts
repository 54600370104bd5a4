import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import lockfile from "proper-lockfile";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError } from "../../lib/errors";

/**
 * Several creates of a Moodle build with no template yet: one installs and makes the template, the
 * others wait for it instead of running their own full install at the same time.
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-tplwait-"));
let t: typeof import("../../instances/templates");

beforeAll(async () => {
  process.env.MDIND_HOME = home;
  t = await import("../../instances/templates");
}, 60_000);
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

const complete = (key: string) => {
  fs.mkdirSync(t.templateDir(key), { recursive: true });
  fs.writeFileSync(path.join(t.templateDir(key), ".complete"), "");
};

describe("whileMakingTemplate", () => {
  it("in one process: the second create waits for the first's install, then finds the template", async () => {
    const key = "5.1-aaaa-postgres-15";
    const order: string[] = [];
    const install = (who: string) => async () => {
      if (t.hasTemplate(key)) {
        order.push(`${who}: template`);
        return false;
      }
      order.push(`${who}: installing`);
      await new Promise((r) => setTimeout(r, 300));
      complete(key);
      order.push(`${who}: template made`);
      return true;
    };
    const logs: Record<string, string[]> = { a: [], b: [] };
    const [a, b] = await Promise.all(["a", "b"].map((who) => t.whileMakingTemplate(key, (l) => logs[who].push(l), install(who))));
    expect([a, b]).toEqual([true, false]);
    expect(order).toEqual(["a: installing", "a: template made", "b: template"]);
    // The one that waited says so in its progress; the one that installed does not.
    expect(logs.a).toEqual([]);
    expect(logs.b).toHaveLength(1);
    expect(logs.b[0]).toMatch(/another create is installing/);
  });

  it("across processes: waits while another holds the build lock, says so once, then uses its template", async () => {
    const key = "4.5-bbbb-mariadb-10.11";
    const lock = path.join(home, "cache", "templates", `${key}.build.lock`);
    fs.mkdirSync(path.dirname(lock), { recursive: true });
    fs.writeFileSync(lock, "");
    const release = await lockfile.lock(lock, { realpath: false, stale: 15_000, update: 5_000 });
    const logs: string[] = [];
    let ran = 0;
    const waiting = t.whileMakingTemplate(key, (l) => logs.push(l), async () => {
      ran++;
      return !t.hasTemplate(key);
    });
    await new Promise((r) => setTimeout(r, 2500));
    // Still waiting: it has not run its own install while the other holds the lock.
    expect(ran).toBe(0);
    complete(key);
    await release();
    expect(await waiting).toBe(false);
    expect(ran).toBe(1);
    expect(logs).toHaveLength(1);
    expect(logs[0]).toMatch(/another create is installing/);
  });

  it("an install's own conflict (an engine 409) fails the create at once, never read as a busy lock", async () => {
    let runs = 0;
    const started = Date.now();
    await expect(
      t.whileMakingTemplate("5.1-dddd-postgres-15", () => undefined, async () => {
        runs++;
        throw new ConflictError("container already exists");
      }),
    ).rejects.toThrow("container already exists");
    expect(runs).toBe(1);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it("installs itself when the other create failed and left no template", async () => {
    const key = "5.0-cccc-postgres-16";
    const first = t.whileMakingTemplate(key, () => undefined, async () => {
      throw new Error("install failed");
    });
    const second = t.whileMakingTemplate(key, () => undefined, async () => !t.hasTemplate(key));
    await expect(first).rejects.toThrow("install failed");
    expect(await second).toBe(true);
  });
});
