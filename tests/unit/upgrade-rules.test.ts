import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { meetsRequires, normalizeVersion, parseEnvironment, phpVersionCompare } from "../../lib/moodle/environment";
import { upgradeCandidates } from "../../lib/moodle/newer";
import { addedPlugins, branchCode, isRealDir, parsePluginVersion, pluginBlocker, readPluginFile } from "../../lib/moodle/plugins";
import type { BuildInfo } from "../../lib/moodle/store";
import { upgradeInputSchema } from "../../instances/upgrade/plan";
import { moodleSaid } from "../../instances/upgrade/steps";
import { CommandError } from "../../lib/errors";

/**
 * The rules an upgrade is checked against, parsed the way Moodle parses them: environment.xml
 * blocks (Moodle 5.1's own text, abridged), release strings, and plugins' version.php.
 */
const ENV_51 = `<?xml version="1.0" encoding="UTF-8" ?>
<COMPATIBILITY_MATRIX>
  <MOODLE version="4.5" requires="4.1.2">
    <UNICODE level="required">
      <FEEDBACK>
        <ON_ERROR message="unicoderequired" />
      </FEEDBACK>
    </UNICODE>
    <DATABASE level="required">
      <VENDOR name="mariadb" version="10.6.7" />
      <VENDOR name="mysql" version="8.0" />
      <VENDOR name="postgres" version="13" />
      <VENDOR name="mssql" version="14.0" />
      <VENDOR name="oracle" version="19" />
    </DATABASE>
    <PHP version="8.1.0" level="required">
    </PHP>
  </MOODLE>
  <MOODLE version="5.0" requires="4.2.3">
    <DATABASE level="required">
      <VENDOR name="mariadb" version="10.11.0" />
      <VENDOR name="mysql" version="8.4" />
      <VENDOR name="postgres" version="14" />
    </DATABASE>
    <PHP version="8.2.0" level="required">
    </PHP>
    <PHP_EXTENSIONS>
      <PHP_EXTENSION name="iconv" level="required">
      </PHP_EXTENSION>
    </PHP_EXTENSIONS>
  </MOODLE>
  <MOODLE version="5.1" requires="4.2.3">
    <DATABASE level="required">
      <VENDOR name="mariadb" version="10.11.0" />
      <VENDOR name="mysql" version="8.4" />
      <VENDOR name="postgres" version="15" />
      <VENDOR name="mssql" version="14.0" />
      <VENDOR name="auroramysql" version="8.0" />
    </DATABASE>
    <PHP version="8.2.0" level="required">
    </PHP>
  </MOODLE>
</COMPATIBILITY_MATRIX>
`;

describe("environment.xml", () => {
  it("takes the block of the build's own release, its requires, PHP and database minimums", () => {
    expect(parseEnvironment(ENV_51, "5.1+ (Build: 20251017)")).toEqual({
      block: "5.1", requires: "4.2.3", php: "8.2.0",
      db: { mariadb: "10.11.0", mysql: "8.4", postgres: "15", mssql: "14.0", auroramysql: "8.0" },
    });
    expect(parseEnvironment(ENV_51, "4.5.5 (Build: 20250609)")).toMatchObject({ block: "4.5", requires: "4.1.2", php: "8.1.0", db: { postgres: "13", mariadb: "10.6.7" } });
  });

  it("like get_latest_version_available(): the newest block not newer than the release", () => {
    expect(parseEnvironment(ENV_51, "5.0.3 (Build: 20250915)")?.block).toBe("5.0");
    expect(parseEnvironment(ENV_51, "5.2dev")?.block).toBe("5.1");
    expect(parseEnvironment(ENV_51, "4.4.1")).toBeNull();
    expect(parseEnvironment("<COMPATIBILITY_MATRIX></COMPATIBILITY_MATRIX>", "5.1")).toBeNull();
  });

  it("reads the real trees when they are on this machine", () => {
    const trees = { "4.5": "/work/moodle-src/4.5/admin/environment.xml", "5.0": "/work/moodle-src/5.0/admin/environment.xml", "5.1": "/work/moodle-src/5.1/public/admin/environment.xml" };
    for (const [branch, file] of Object.entries(trees)) {
      if (!fs.existsSync(file)) continue;
      const env = parseEnvironment(fs.readFileSync(file, "utf8"), `${branch}.0`);
      expect(env?.block).toBe(branch);
      expect(env?.requires).toBe(branch === "4.5" ? "4.1.2" : "4.2.3");
      expect(env?.db.postgres).toBeDefined();
    }
  });
});

describe("release and version comparison", () => {
  it("normalizes releases as Moodle's normalize_version()", () => {
    expect(normalizeVersion("4.5.5+ (Build: 20250711)")).toBe("4.5.5");
    expect(normalizeVersion("5.1+ (Build: 20251017)")).toBe("5.1");
    expect(normalizeVersion("5.1dev (Build: 20250901)")).toBe("5.1");
    expect(normalizeVersion("4.1.20 (Build: 20250811)")).toBe("4.1.20");
  });

  it("compares like PHP's version_compare (a shorter equal prefix is older)", () => {
    expect(phpVersionCompare("4.1.20", "4.1.2")).toBeGreaterThan(0);
    expect(phpVersionCompare("4.10", "4.9")).toBeGreaterThan(0);
    expect(phpVersionCompare("4.2.3", "4.2.3")).toBe(0);
    expect(phpVersionCompare("4.5", "4.5.0")).toBeLessThan(0);
  });

  it("applies the path rules: 4.5 needs 4.1.2, 5.x needs 4.2.3; a dev release counts as the one before", () => {
    expect(meetsRequires("4.1.20 (Build: 20250811)", "4.1.2")).toBe(true);
    expect(meetsRequires("4.1.1 (Build: 20230116)", "4.1.2")).toBe(false);
    expect(meetsRequires("4.1.20 (Build: 20250811)", "4.2.3")).toBe(false);
    expect(meetsRequires("4.2.3 (Build: 20231009)", "4.2.3")).toBe(true);
    expect(meetsRequires("4.5.5 (Build: 20250609)", "4.2.3")).toBe(true);
    expect(meetsRequires("4.3dev (Build: 20230505)", "4.2.3")).toBe(false);
  });
});

describe("plugins' version.php", () => {
  it("reads component, version, requires, supported and incompatible in both array syntaxes", () => {
    expect(parsePluginVersion(`<?php
defined('MOODLE_INTERNAL') || die();
$plugin->version   = 2024100700;       // The current module version (Date: YYYYMMDDXX).
$plugin->requires  = 2024100100;       // Requires this Moodle version.
$plugin->component = 'mod_forum';      // Full name of the plugin (used for diagnostics)
`)).toEqual({ component: "mod_forum", version: "2024100700", requires: "2024100100", supported: null, incompatible: null });
    expect(parsePluginVersion("$plugin->component = 'local_x';\n$plugin->supported = array(401, 405);\n$plugin->incompatible = 500;")).toMatchObject({ supported: [401, 405], incompatible: 500 });
    expect(parsePluginVersion("$plugin->supported = [405, 501];")).toMatchObject({ supported: [405, 501] });
  });

  it("blocks on requires and incompatible as Moodle does, and on a supported range that leaves the target out", () => {
    const target = { version: "2025100600.02", branch: "5.1" };
    expect(branchCode("5.1")).toBe(501);
    expect(branchCode("4.10")).toBe(410);
    expect(pluginBlocker(parsePluginVersion("$plugin->requires = 2024100100;"), target)).toBeNull();
    expect(pluginBlocker(parsePluginVersion("$plugin->requires = 2026040100;"), target)).toMatch(/needs core 2026040100/);
    expect(pluginBlocker(parsePluginVersion("$plugin->incompatible = 501;"), target)).toMatch(/incompatible from 5\.1/);
    expect(pluginBlocker(parsePluginVersion("$plugin->incompatible = 502;"), target)).toBeNull();
    expect(pluginBlocker(parsePluginVersion("$plugin->supported = [401, 405];"), target)).toBe("supports 4.1–4.5 only");
    expect(pluginBlocker(parsePluginVersion("$plugin->supported = [405, 501];"), target)).toBeNull();
  });
});

describe("plugin folders an instance added", () => {
  it("finds folders the build lacks, and never follows a link the site's PHP could have planted", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-plugins-"));
    try {
      const build = path.join(root, "build");
      const code = path.join(root, "code");
      const outside = path.join(root, "outside");
      for (const d of ["build/public/local/shipped", "build/public/mod/forum", "code/public/local/shipped", "code/public/local/mine", "outside/secret"]) {
        fs.mkdirSync(path.join(root, d), { recursive: true });
      }
      fs.writeFileSync(path.join(code, "public/local/mine/version.php"), "$plugin->component = 'local_mine';");
      fs.writeFileSync(path.join(outside, "secret/version.php"), "$plugin->component = 'local_secret';");
      // A plugin folder that is a link, and a whole type folder that is one.
      fs.symlinkSync(path.join(outside, "secret"), path.join(code, "public/local/linked"));
      fs.mkdirSync(path.join(code, "public"), { recursive: true });
      fs.symlinkSync(outside, path.join(code, "public/mod"));
      fs.symlinkSync(path.join(outside, "secret/version.php"), path.join(code, "public/local/mine/link.php"));

      const types = { local: "public/local", mod: "public/mod" };
      expect(await addedPlugins(code, build, types)).toEqual([{ type: "local", name: "mine", dir: "public/local/mine" }]);
      expect(await isRealDir(code, "public/local/mine")).toBe(true);
      expect(await isRealDir(code, "public/local/linked")).toBe(false);
      expect(await isRealDir(code, "public/mod/secret")).toBe(false);
      expect(await readPluginFile(path.join(code, "public/local/mine/version.php"))).toContain("local_mine");
      expect(await readPluginFile(path.join(code, "public/local/mine/link.php"))).toBe("");
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});

describe("upgrade candidates and input", () => {
  const b = (branch: string, version: string): BuildInfo => ({
    id: `${branch}-${version}-0000000${branch.length}`, branch, release: branch, version, publicDir: false, origin: "disk",
    originDetail: "", addedAt: "2025-01-01T00:00:00Z", sizeBytes: 0, vendor: true, files: 1,
  });
  const lib = [b("4.5", "2024100705.05"), b("4.5", "2024100700.00"), b("5.1", "2025100600.02"), b("4.1", "2022112820.00")];

  it("offers a higher $version on the same branch or a later one, newest first", () => {
    expect(upgradeCandidates(lib, { branch: "4.5", version: "2024100700.00" }).map((x) => x.version)).toEqual(["2025100600.02", "2024100705.05"]);
    expect(upgradeCandidates(lib, { branch: "5.1", version: "2025100600.02" })).toEqual([]);
    expect(upgradeCandidates(lib, { branch: "fixture", version: "2025100600.00" })).toEqual([]);
    expect(upgradeCandidates(lib, { branch: "4.5" })).toEqual([]);
  });

  it("takes a branch, a release or a build id as the target, and a valid name as the clone", () => {
    for (const to of ["5.1", "4.5.5", "5.1-2025100600.02-a1b2c3d4"]) expect(upgradeInputSchema.safeParse({ to }).success).toBe(true);
    for (const to of ["auto", "latest", "5", "5.1; rm -rf /", "../5.1"]) expect(upgradeInputSchema.safeParse({ to }).success).toBe(false);
    expect(upgradeInputSchema.safeParse({ to: "5.1", clone: "Bad Name" }).success).toBe(false);
    expect(upgradeInputSchema.safeParse({ to: "5.1", clone: "site-2" }).success).toBe(true);
    expect(upgradeInputSchema.safeParse({ to: "5.1", extra: 1 }).success).toBe(false);
  });
});

describe("what Moodle said when a step failed", () => {
  it("puts its '!!! … !!!' error and error code first, not the stack trace after them", () => {
    const stdout = "-->local_boom\n";
    const stderr = [
      "!!! Exception - local_boom refuses to install (forced failure) !!!",
      "!!",
      "Error code: generalexceptionmessage !!",
      "!! Stack trace: * line 4 of /local/boom/db/install.php: core\\exception\\moodle_exception thrown",
      "* line 753 of /lib/upgradelib.php: call to xmldb_local_boom_install()",
      " !!",
    ].join("\n");
    expect(moodleSaid(new CommandError(["admin/cli/upgrade.php"], 1, stdout, stderr, "admin/cli/upgrade.php")))
      .toBe("admin/cli/upgrade.php exited with 1: Exception - local_boom refuses to install (forced failure) | Error code: generalexceptionmessage");
    expect(moodleSaid(new CommandError(["php"], 255, "a\nb\n", "", "php"))).toBe("php exited with 255: a | b");
    expect(moodleSaid(new Error("two\nlines"))).toBe("two | lines");
  });
});
