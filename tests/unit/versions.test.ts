import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { CATALOG } from "../../lib/images/catalog";
import { findBranch, markdownTable, MOODLE_BRANCHES, stackDefaults, SUITE_STACKS, versionsOf } from "../../lib/versions";
import { compatibilityMatrix, parseCreateInput, resolveSpec } from "../../instances/spec";

const root = path.resolve(import.meta.dirname, "..", "..");

describe("the one version table", () => {
  it("the README prints exactly the table", () => {
    const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
    expect(readme).toContain(markdownTable());
  });

  it("the image catalog is the table's versions, each on its suite", () => {
    for (const e of CATALOG) expect(SUITE_STACKS[e.suite][e.kind]).toBe(e.version);
    const fromTable = Object.values(SUITE_STACKS).reduce((n, row) => n + Object.keys(row).length, 0);
    expect(CATALOG.length).toBe(fromTable);
  });

  it("every version a branch allows has an image recipe in the catalog", () => {
    for (const b of MOODLE_BRANCHES) {
      for (const v of b.php) expect(versionsOf("php")).toContain(v);
      for (const v of b.postgres) expect(versionsOf("postgres")).toContain(v);
      for (const v of b.mariadb) expect(versionsOf("mariadb")).toContain(v);
    }
  });

  it("defaults with nothing on the engine: PHP's own suite", () => {
    expect(stackDefaults(findBranch("5.1")!)).toEqual({ php: "8.2", postgres: "15", mariadb: "10.11", nginx: "1.22", apache: "2.4" });
    expect(stackDefaults(findBranch("4.1")!)).toMatchObject({ php: "7.4", postgres: "13", mariadb: "10.5", nginx: "1.18" });
  });

  it("defaults prefer the newest allowed image already on the engine, over a build", () => {
    const present = new Set(["php:8.4", "php:8.2", "postgres:15", "nginx:1.22"]);
    expect(stackDefaults(findBranch("5.1")!, present)).toMatchObject({ php: "8.4", postgres: "15", nginx: "1.22" });
    // 4.5 cannot use PHP 8.4, so the present 8.2 wins; of its PostgreSQL versions only 15 is present.
    expect(stackDefaults(findBranch("4.5")!, present)).toMatchObject({ php: "8.2", postgres: "15" });
    // Nothing present for mariadb: falls back to the suite of the chosen PHP.
    expect(stackDefaults(findBranch("5.1")!, present).mariadb).toBe("11.8");
  });

  it("resolveSpec and the form's matrix agree on defaults", () => {
    const present = new Set(["php:8.2", "postgres:15", "nginx:1.22"]);
    for (const row of compatibilityMatrix(present).filter((b) => b.branch !== "fixture")) {
      const s = resolveSpec(parseCreateInput({ name: "aa", moodle: row.branch }), row.branch, present);
      expect(s.php).toBe(row.defaults.php);
      expect(s.db.version).toBe(row.defaults.postgres);
      expect(s.web.version).toBe(row.defaults.nginx);
    }
  });
});
