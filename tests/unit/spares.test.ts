import fs from "node:fs/promises";
import fss from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

/**
 * Spare code trees (instances/spares.ts) on a real filesystem: cp -al, chown and rename run for
 * real, against a small tree laid out like a cached source.
 */
const home = fss.mkdtempSync(path.join(os.tmpdir(), "mdind-spares-"));
process.env.MDIND_HOME = home;
const { takeSpare, replenishSpare, settleSpares, keepSparesReady } = await import("../../instances/spares");
const { copyCode } = await import("../../instances/source");

const src = path.join(home, "cache", "sources", "tree-0123456789abcdef");
const spares = path.join(home, "cache", "spares", path.basename(src));
const ready = () => fss.readdirSync(spares).filter((e) => !e.startsWith("."));

beforeAll(async () => {
  await fs.mkdir(path.join(src, "lib", "classes"), { recursive: true });
  await fs.writeFile(path.join(src, "index.php"), "<?php echo 1;");
  await fs.writeFile(path.join(src, "lib", "classes", "a.php"), "<?php class a {}");
  await fs.writeFile(path.join(src, ".complete"), "origin");
});
afterAll(async () => {
  await settleSpares();
  await fs.rm(home, { recursive: true, force: true });
});

describe("the source cache", () => {
  it("copies a new source once when two creates in one process ask for it together", async () => {
    const user = path.join(home, "user-moodle");
    await fs.mkdir(path.join(user, "public", "lib"), { recursive: true });
    await fs.writeFile(path.join(user, "public", "version.php"), "<?php $version = 2025100600.01; $release = '5.1+ (Build: 20251017)'; $branch = '501';");
    for (let i = 0; i < 200; i++) await fs.writeFile(path.join(user, "public", "lib", `f${i}.php`), "<?php");
    const { resolveSource } = await import("../../instances/source");
    process.env.MOODLE_SOURCE = user;
    try {
      const [a, b] = await Promise.all([resolveSource("auto"), resolveSource("5.1")]);
      expect(a.dir).toBe(b.dir);
      expect(fss.existsSync(path.join(a.dir, ".complete"))).toBe(true);
      expect(fss.readdirSync(path.dirname(a.dir)).filter((e) => e.includes(".partial"))).toEqual([]);
    } finally {
      delete process.env.MOODLE_SOURCE;
    }
  });
});

describe("spare code trees", () => {
  it("has none to give before one is made", async () => {
    const dest = path.join(home, "i0", "code");
    await fs.mkdir(dest, { recursive: true });
    expect(await takeSpare(src, dest)).toBe(false);
    expect(fss.existsSync(dest)).toBe(true);
  });

  it("makes none in a short-lived process (the CLI), which has not asked to keep spares ready", async () => {
    replenishSpare(src);
    await settleSpares();
    expect(fss.existsSync(spares)).toBe(false);
  });

  it("makes one linked, www-data-owned copy, and only one however often it is asked", async () => {
    keepSparesReady();
    replenishSpare(src);
    replenishSpare(src);
    replenishSpare(src);
    await settleSpares();
    expect(ready()).toHaveLength(1);
    const tree = path.join(spares, ready()[0]);
    const a = fss.statSync(path.join(tree, "lib", "classes", "a.php"));
    expect(a.ino).toBe(fss.statSync(path.join(src, "lib", "classes", "a.php")).ino);
    expect(fss.statSync(path.join(tree, "lib")).uid).toBe(33);
    expect(fss.existsSync(path.join(tree, ".complete"))).toBe(false);
    expect(fss.readdirSync(spares).filter((e) => e.endsWith(".partial"))).toEqual([]);
  });

  it("gives the spare to copyCode, which then has nothing left to give", async () => {
    const dest = path.join(home, "i1", "code");
    await fs.mkdir(dest, { recursive: true });
    await copyCode(src, dest, { link: true });
    expect(fss.readFileSync(path.join(dest, "index.php"), "utf8")).toBe("<?php echo 1;");
    expect(fss.statSync(path.join(dest, "lib")).uid).toBe(33);
    expect(ready()).toEqual([]);
    const dest2 = path.join(home, "i2", "code");
    await fs.mkdir(dest2, { recursive: true });
    await copyCode(src, dest2, { link: true });
    expect(fss.statSync(path.join(dest2, "index.php")).ino).toBe(fss.statSync(path.join(src, "index.php")).ino);
  });

  it("never hands one spare to two creates at once", async () => {
    replenishSpare(src);
    await settleSpares();
    const dests = [1, 2, 3, 4].map((i) => path.join(home, `race${i}`, "code"));
    for (const d of dests) await fs.mkdir(d, { recursive: true });
    const got = await Promise.all(dests.map((d) => takeSpare(src, d)));
    expect(got.filter(Boolean)).toHaveLength(1);
    for (const d of dests) expect(fss.existsSync(d)).toBe(true);
  });

  it("clears a dead process's half-made spare, and can be turned off", async () => {
    await fs.mkdir(path.join(spares, ".dead.partial", "lib"), { recursive: true });
    replenishSpare(src);
    await settleSpares();
    expect(fss.readdirSync(spares).filter((e) => e.endsWith(".partial"))).toEqual([]);
    expect(ready()).toHaveLength(1);
    process.env.MDIND_CODE_SPARES = "0";
    try {
      const dest = path.join(home, "off", "code");
      await fs.mkdir(dest, { recursive: true });
      expect(await takeSpare(src, dest)).toBe(false);
    } finally {
      delete process.env.MDIND_CODE_SPARES;
    }
  });
});
