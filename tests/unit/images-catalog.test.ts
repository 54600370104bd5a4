import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { aptSources } from "@/lib/images/base";
import { buildArgs, recipeDir, recipeHash } from "@/lib/images/build";
import {
  CATALOG,
  KINDS,
  SUITES,
  findEntry,
  getEntry,
  imageRef,
  latestVersion,
  normaliseDebVersion,
  ownsMajorTag,
  parseSpec,
  tagsFor,
  versionsOf,
} from "@/lib/images/catalog";
import { resolveSpecs } from "@/lib/images/cli";

describe("catalog", () => {
  it("has the version matrix, each version on the suite that ships it", () => {
    const rows = CATALOG.map((e) => `${e.kind}:${e.version}@${e.suite}`);
    expect(rows).toEqual([
      "php:7.4@bullseye",
      "php:8.2@bookworm",
      "php:8.4@trixie",
      "postgres:13@bullseye",
      "postgres:15@bookworm",
      "postgres:17@trixie",
      "mariadb:10.5@bullseye",
      "mariadb:10.11@bookworm",
      "mariadb:11.8@trixie",
      "nginx:1.18@bullseye",
      "nginx:1.22@bookworm",
      "nginx:1.26@trixie",
      "apache:2.4@trixie",
    ]);
    expect(SUITES).toEqual(["bullseye", "bookworm", "trixie"]);
    for (const k of KINDS) expect(versionsOf(k).length).toBeGreaterThan(0);
  });

  it("sorts versions numerically, not as strings", () => {
    expect(versionsOf("mariadb")).toEqual(["10.5", "10.11", "11.8"]);
    expect(latestVersion("mariadb")).toBe("11.8");
    expect(latestVersion("postgres")).toBe("17");
  });

  it("builds refs from the configured prefix", () => {
    const prev = process.env.MDIND_IMAGE_PREFIX;
    try {
      delete process.env.MDIND_IMAGE_PREFIX;
      expect(imageRef("php", "8.2")).toBe("moodle-dind/php:8.2");
      process.env.MDIND_IMAGE_PREFIX = "example/mdind";
      expect(imageRef("postgres", "15")).toBe("example/mdind/postgres:15");
    } finally {
      if (prev === undefined) delete process.env.MDIND_IMAGE_PREFIX;
      else process.env.MDIND_IMAGE_PREFIX = prev;
    }
  });

  it("parses specs and rejects unknown images", () => {
    expect(parseSpec("php:8.2")).toMatchObject({ kind: "php", version: "8.2", suite: "bookworm", package: "php8.2-fpm" });
    expect(parseSpec("moodle-dind/postgres:15").package).toBe("postgresql-15");
    expect(() => parseSpec("php:8.3")).toThrow(/Unknown image php:8.3 \(7.4, 8.2, 8.4\)/);
    expect(() => parseSpec("php")).toThrow(/kind:version/);
    expect(() => getEntry("redis", "7")).toThrow(/kinds are/);
    expect(findEntry("nginx", "1.22")?.suite).toBe("bookworm");
  });

  it("resolves CLI specs: all, a bare kind, duplicates once", () => {
    expect(resolveSpecs(["all"])).toHaveLength(CATALOG.length);
    expect(resolveSpecs(["php"]).map((e) => e.version)).toEqual(["7.4", "8.2", "8.4"]);
    expect(resolveSpecs(["php:8.2", "php", "postgres:15"]).map((e) => `${e.kind}:${e.version}`)).toEqual([
      "php:8.2",
      "php:7.4",
      "php:8.4",
      "postgres:15",
    ]);
    expect(() => resolveSpecs([])).toThrow();
  });
});

describe("tag normalisation", () => {
  it.each([
    ["8.2.29-1~deb12u1", "8.2.29"],
    ["7.4.33-1+deb11u8", "7.4.33"],
    ["15.14-0+deb12u1", "15.14"],
    ["17.6-0+deb13u1", "17.6"],
    ["1:10.11.14-0+deb12u2", "10.11.14"],
    ["1:11.8.3-0+deb13u1", "11.8.3"],
    ["1.22.1-9+deb12u2", "1.22.1"],
    ["2.4.65-2", "2.4.65"],
    ["13.22-0+deb11u1", "13.22"],
  ])("%s → %s", (deb, exact) => {
    expect(normaliseDebVersion(deb)).toBe(exact);
  });

  it("rejects something that is not a version", () => {
    expect(() => normaliseDebVersion("dpkg-query: no packages found")).toThrow();
  });

  it("gives the major tag to the highest minor only, latest to the newest version", () => {
    expect(ownsMajorTag("php", "8.4")).toBe(true);
    expect(ownsMajorTag("php", "8.2")).toBe(false);
    expect(tagsFor("php", "8.2", "8.2.29")).toEqual(["8.2", "8.2.29"]);
    expect(tagsFor("php", "8.4", "8.4.11").sort()).toEqual(["8", "8.4", "8.4.11", "latest"].sort());
    expect(tagsFor("php", "7.4", "7.4.33").sort()).toEqual(["7", "7.4", "7.4.33"].sort());
    expect(tagsFor("postgres", "15", "15.14")).toEqual(["15", "15.14"]);
    expect(tagsFor("postgres", "17", "17.6").sort()).toEqual(["17", "17.6", "latest"].sort());
    expect(tagsFor("mariadb", "10.11", "10.11.14").sort()).toEqual(["10", "10.11", "10.11.14"].sort());
    expect(tagsFor("mariadb", "10.5", "10.5.29")).toEqual(["10.5", "10.5.29"]);
    expect(tagsFor("apache", "2.4", "2.4.65").sort()).toEqual(["2", "2.4", "2.4.65", "latest"].sort());
  });
});

describe("recipe hash", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-recipe-"));
    await fs.mkdir(path.join(dir, "sub"));
    await fs.writeFile(path.join(dir, "Dockerfile"), "FROM x\n");
    await fs.writeFile(path.join(dir, "a.sh"), "echo a\n");
    await fs.writeFile(path.join(dir, "sub", "b.conf"), "b\n");
  });
  afterEach(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  it("is stable and independent of file creation order", async () => {
    const h1 = await recipeHash(dir, { BASE: "debian:bookworm-slim", VERSION: "8.2" });
    const other = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-recipe-"));
    try {
      await fs.mkdir(path.join(other, "sub"));
      await fs.writeFile(path.join(other, "sub", "b.conf"), "b\n");
      await fs.writeFile(path.join(other, "a.sh"), "echo a\n");
      await fs.writeFile(path.join(other, "Dockerfile"), "FROM x\n");
      expect(await recipeHash(other, { VERSION: "8.2", BASE: "debian:bookworm-slim" })).toBe(h1);
    } finally {
      await fs.rm(other, { recursive: true, force: true });
    }
    expect(h1).toMatch(/^[0-9a-f]{64}$/);
  });

  it("changes with any file's content or name, and with the build args", async () => {
    const args = { BASE: "debian:bookworm-slim", VERSION: "8.2" };
    const h1 = await recipeHash(dir, args);
    expect(await recipeHash(dir, { ...args, VERSION: "8.4" })).not.toBe(h1);
    expect(await recipeHash(dir, { ...args, BASE: "debian:trixie-slim" })).not.toBe(h1);
    await fs.writeFile(path.join(dir, "sub", "b.conf"), "b2\n");
    const h2 = await recipeHash(dir, args);
    expect(h2).not.toBe(h1);
    await fs.rename(path.join(dir, "a.sh"), path.join(dir, "c.sh"));
    expect(await recipeHash(dir, args)).not.toBe(h2);
  });

  it("covers the real recipes, with build args per catalog entry", async () => {
    for (const kind of KINDS) {
      const files = await fs.readdir(recipeDir(kind));
      expect(files).toContain("Dockerfile");
    }
    const e = getEntry("php", "8.2");
    expect(buildArgs(e)).toEqual({ BASE: "debian:bookworm-slim", VERSION: "8.2" });
    const a = await recipeHash(recipeDir("php"), buildArgs(e));
    expect(await recipeHash(recipeDir("php"), buildArgs(e))).toBe(a);
  });
});

describe("bootstrapped apt sources", () => {
  it("lists main, updates and security for each suite", () => {
    expect(aptSources("bullseye", "http://deb.debian.org/debian", "http://deb.debian.org/debian-security")).toBe(
      [
        "deb http://deb.debian.org/debian bullseye main",
        "deb http://deb.debian.org/debian bullseye-updates main",
        "deb http://deb.debian.org/debian-security bullseye-security main",
        "",
      ].join("\n"),
    );
    for (const s of SUITES) expect(aptSources(s)).toContain(`${s}-security main`);
  });
});
