import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "@/lib/errors";
import {
  extractZipSafe,
  installPluginZip,
  loadBundle,
  moodleLayoutFor,
  pluginInstallDir,
  guessPluginFromFolder,
  componentFromVersionPhp,
} from "@/lib/blueprint";

/**
 * A minimal ZIP writer, so hostile archives (names with "..", absolute paths, backslashes, NUL, symlink
 * entries, lying sizes) can be built byte for byte; real zip tools refuse to produce most of them.
 */
interface ZEntry {
  name: string;
  data?: Buffer | string;
  /** Unix mode stored in the external attributes (0o120777 = symlink). */
  mode?: number;
  deflate?: boolean;
  /** Lie about the uncompressed size in both headers. */
  declaredSize?: number;
}

function makeZip(entries: ZEntry[]): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const raw = Buffer.isBuffer(e.data) ? e.data : Buffer.from(e.data ?? "");
    const body = e.deflate ? zlib.deflateRawSync(raw) : raw;
    const crc = zlib.crc32(raw);
    const name = Buffer.from(e.name, "utf8");
    const usize = e.declaredSize ?? raw.length;
    const method = e.deflate ? 8 : 0;
    const mode = e.mode ?? (e.name.endsWith("/") ? 0o040755 : 0o100644);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(0x0800, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(0, 10);
    local.writeUInt16LE(0x21, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(body.length, 18);
    local.writeUInt32LE(usize, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(0, 12);
    central.writeUInt16LE(0x21, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(body.length, 20);
    central.writeUInt32LE(usize, 24);
    central.writeUInt16LE(name.length, 28);
    central.writeUInt32LE(((mode << 16) >>> 0) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    locals.push(local, name, body);
    centrals.push(central, name);
    offset += local.length + name.length + body.length;
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

let tmp: string;
let n = 0;
beforeAll(async () => {
  tmp = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-bp-zip-"));
});
afterAll(async () => {
  await fs.rm(tmp, { recursive: true, force: true });
});

async function zipFile(entries: ZEntry[]): Promise<string> {
  const p = path.join(tmp, `z${n++}.zip`);
  await fs.writeFile(p, makeZip(entries));
  return p;
}
async function freshDir(): Promise<string> {
  const d = path.join(tmp, `d${n++}`);
  await fs.mkdir(d);
  return d;
}
async function exists(p: string): Promise<boolean> {
  return fs.lstat(p).then(() => true, () => false);
}

const BP = JSON.stringify({ resources: { note: { bundled: "files/note.txt" } }, steps: [{ step: "setConfig", name: "x", value: "1" }] });

describe("hostile ZIP entries", () => {
  const hostile: Array<[string, ZEntry, RegExp]> = [
    ["zip-slip", { name: "../evil.txt", data: "x" }, /unsafe entry name.*relative path/],
    ["nested zip-slip", { name: "a/../../evil.txt", data: "x" }, /unsafe entry name.*relative path/],
    ["absolute", { name: "/tmp/evil.txt", data: "x" }, /unsafe entry name.*absolute/],
    ["drive letter", { name: "C:/evil.txt", data: "x" }, /unsafe entry name.*absolute/],
    ["backslash", { name: "a\\..\\..\\evil.txt", data: "x" }, /unsafe entry name.*invalid characters/],
    ["NUL", { name: "a\u0000.txt", data: "x" }, /control character/],
    ["symlink", { name: "link", data: "/etc/passwd", mode: 0o120777 }, /symbolic link/],
    ["device", { name: "dev", data: "", mode: 0o020644 }, /special file/],
  ];

  for (const [what, entry, why] of hostile) {
    it(`extractZipSafe refuses a ${what} entry and writes nothing`, async () => {
      const z = await zipFile([{ name: "ok.txt", data: "fine" }, entry]);
      const dest = await freshDir();
      const err = await extractZipSafe(z, dest, { maxBytes: 1e6, maxEntries: 100 }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValidationError);
      expect((err as Error).message).toMatch(why);
      expect(await fs.readdir(dest)).toEqual([]);
      expect(await exists(path.join(tmp, "evil.txt"))).toBe(false);
    });

    it(`a bundle with a ${what} entry is refused`, async () => {
      const z = await zipFile([{ name: "blueprint.json", data: BP }, entry]);
      await expect(loadBundle(z)).rejects.toThrow(ValidationError);
    });

    it(`a plugin ZIP with a ${what} entry is refused`, async () => {
      const z = await zipFile([{ name: "foo/version.php", data: "<?php $plugin->component = 'local_foo';" }, { ...entry, name: entry.name.replace(/^(?=[^/.\\C])/, "foo/") }]);
      const root = await freshDir();
      await expect(installPluginZip(z, root, { layout: "legacy", maxBytes: 1e6, maxEntries: 100 })).rejects.toThrow(ValidationError);
      expect(await exists(path.join(root, "local", "foo"))).toBe(false);
    });
  }

  it("refuses duplicate entries and file/folder clashes", async () => {
    const dest = await freshDir();
    await expect(extractZipSafe(await zipFile([{ name: "a", data: "1" }, { name: "a", data: "2" }]), dest)).rejects.toThrow(/appears twice/);
    await expect(extractZipSafe(await zipFile([{ name: "a", data: "1" }, { name: "a/b", data: "2" }]), dest)).rejects.toThrow(/both a file and a folder/);
  });
});

describe("zip bomb guards", () => {
  it("refuses archives whose declared total is over the cap", async () => {
    const z = await zipFile([{ name: "zeros", data: Buffer.alloc(4 * 1024 * 1024), deflate: true }]);
    expect((await fs.stat(z)).size).toBeLessThan(64 * 1024);
    await expect(extractZipSafe(z, await freshDir(), { maxBytes: 1024 * 1024, maxEntries: 10 })).rejects.toThrow(/unpacks to more than 1048576 bytes/);
  });

  it("refuses entries that unpack to more than they declare", async () => {
    const z = await zipFile([{ name: "first.txt", data: "ok" }, { name: "zeros", data: Buffer.alloc(1024 * 1024), deflate: true, declaredSize: 10 }]);
    const dest = await freshDir();
    await fs.writeFile(path.join(dest, "mine.txt"), "keep me");
    await expect(extractZipSafe(z, dest, { maxBytes: 100, maxEntries: 10 })).rejects.toThrow(ValidationError);
    // What the archive wrote is taken back; what was there before is left alone.
    expect(await fs.readdir(dest)).toEqual(["mine.txt"]);
    const fresh = path.join(tmp, `never-existed-${n++}`);
    await expect(extractZipSafe(z, fresh, { maxBytes: 100, maxEntries: 10 })).rejects.toThrow(ValidationError);
    expect(await exists(fresh)).toBe(false);
  });

  it("never overwrites an existing file", async () => {
    const dest = await freshDir();
    await fs.writeFile(path.join(dest, "a.txt"), "original");
    await expect(extractZipSafe(await zipFile([{ name: "a.txt", data: "evil" }]), dest)).rejects.toThrow(/already exists/);
    expect(await fs.readFile(path.join(dest, "a.txt"), "utf8")).toBe("original");
  });

  it("refuses too many entries", async () => {
    const z = await zipFile(Array.from({ length: 20 }, (_, i) => ({ name: `f${i}`, data: "x" })));
    await expect(extractZipSafe(z, await freshDir(), { maxBytes: 1e6, maxEntries: 10 })).rejects.toThrow(/20 entries; the limit is 10/);
  });

  it("refuses a bundle over its caps", async () => {
    const z = await zipFile([{ name: "blueprint.json", data: BP }, ...Array.from({ length: 5 }, (_, i) => ({ name: `f${i}`, data: "x" }))]);
    await expect(loadBundle(z, { maxEntries: 3 })).rejects.toThrow(/limit is 3/);
  });
});

describe("extractZipSafe", () => {
  it("extracts files and folders, skipping __MACOSX", async () => {
    const z = await zipFile([
      { name: "top/" },
      { name: "top/a.txt", data: "A" },
      { name: "top/sub/b.txt", data: "B", deflate: true },
      { name: "__MACOSX/top/._a.txt", data: "junk" },
    ]);
    const dest = await freshDir();
    const res = await extractZipSafe(z, dest, { maxBytes: 1e6, maxEntries: 100, allowedTopDirs: ["top"] });
    expect(res.files.sort()).toEqual(["top/a.txt", "top/sub/b.txt"]);
    expect(await fs.readFile(path.join(dest, "top/sub/b.txt"), "utf8")).toBe("B");
    expect(await exists(path.join(dest, "__MACOSX"))).toBe(false);
  });

  it("enforces allowedTopDirs", async () => {
    const z = await zipFile([{ name: "top/a.txt", data: "A" }, { name: "other/b.txt", data: "B" }]);
    await expect(extractZipSafe(z, await freshDir(), { maxBytes: 1e6, maxEntries: 10, allowedTopDirs: ["top"] })).rejects.toThrow(/outside the allowed folder/);
  });

  it("does not follow a symlink already in the destination", async () => {
    const dest = await freshDir();
    const outside = await freshDir();
    await fs.symlink(outside, path.join(dest, "top"));
    const z = await zipFile([{ name: "top/a.txt", data: "A" }]);
    await expect(extractZipSafe(z, dest, { maxBytes: 1e6, maxEntries: 10 })).rejects.toThrow(/outside the destination/);
    expect(await fs.readdir(outside)).toEqual([]);
  });

  it("reports a non-ZIP file as a ValidationError", async () => {
    const p = path.join(tmp, "not.zip");
    await fs.writeFile(p, "hello");
    await expect(extractZipSafe(p, await freshDir())).rejects.toThrow(ValidationError);
  });
});

describe("plugin ZIPs", () => {
  const version = (component: string) => `<?php\ndefined('MOODLE_INTERNAL') || die();\n$plugin->component = '${component}';\n$plugin->version = 2024010100;\n`;

  it("installs a plugin's single top folder into its type directory (legacy and 5.1 layouts)", async () => {
    const z = await zipFile([{ name: "foo/" }, { name: "foo/version.php", data: version("local_foo") }, { name: "foo/lang/en/local_foo.php", data: "<?php" }]);
    const legacy = await freshDir();
    expect(await installPluginZip(z, legacy, { layout: "legacy" })).toMatchObject({ type: "local", name: "foo", component: "local_foo", dir: "local/foo" });
    expect(await exists(path.join(legacy, "local/foo/lang/en/local_foo.php"))).toBe(true);
    expect((await fs.readdir(path.join(legacy, "local"))).filter((f) => f.startsWith("."))).toEqual([]);

    const modern = await freshDir();
    expect((await installPluginZip(z, modern, { layout: "public" })).dir).toBe("public/local/foo");
    expect(await exists(path.join(modern, "public/local/foo/version.php"))).toBe(true);
  });

  it("renames a GitHub archive folder to the plugin name, and refuses to overwrite without replace", async () => {
    const z = await zipFile([{ name: "moodle-mod_board-main/version.php", data: version("mod_board") }, { name: "__MACOSX/._x", data: "" }]);
    const root = await freshDir();
    expect((await installPluginZip(z, root, { layout: "legacy" })).dir).toBe("mod/board");
    await expect(installPluginZip(z, root, { layout: "legacy" })).rejects.toThrow(/already exists/);
    expect((await installPluginZip(z, root, { layout: "legacy", replace: true })).dir).toBe("mod/board");
  });

  it("refuses several top folders, a missing version.php, and a type mismatch", async () => {
    const root = await freshDir();
    await expect(installPluginZip(await zipFile([{ name: "a/version.php", data: version("local_a") }, { name: "b/x", data: "" }]), root, { layout: "legacy" })).rejects.toThrow(
      /exactly one top-level folder/,
    );
    await expect(installPluginZip(await zipFile([{ name: "a/x.php", data: "" }]), root, { layout: "legacy" })).rejects.toThrow(/version.php is missing/);
    await expect(installPluginZip(await zipFile([{ name: "a/version.php", data: version("local_a") }]), root, { layout: "legacy", type: "mod" })).rejects.toThrow(
      /declares local_a, not mod_a/,
    );
  });

  it("maps plugin types and layouts", () => {
    expect(pluginInstallDir("format", "x", "legacy")).toBe("course/format/x");
    expect(pluginInstallDir("qtype", "x", "public")).toBe("public/question/type/x");
    expect(pluginInstallDir("tool", "x", "legacy")).toBe("admin/tool/x");
    expect(pluginInstallDir("tiny", "x", "legacy")).toBe("lib/editor/tiny/plugins/x");
    expect(pluginInstallDir("block", "x", "legacy")).toBe("blocks/x");
    expect(() => pluginInstallDir("atto", "x", "legacy")).toThrow(ValidationError);
    expect(() => pluginInstallDir("local", "../x", "legacy")).toThrow(ValidationError);
    expect(moodleLayoutFor("5.0.2")).toBe("legacy");
    expect(moodleLayoutFor("5.1")).toBe("public");
    expect(moodleLayoutFor("MOODLE_405_STABLE")).toBe("legacy");
    expect(moodleLayoutFor("MOODLE_501_STABLE")).toBe("public");
    expect(moodleLayoutFor("main")).toBe("public");
    expect(guessPluginFromFolder("moodle-theme_moove-MOODLE_500_STABLE")).toEqual({ type: "theme", name: "moove" });
    expect(componentFromVersionPhp("$plugin->component='block_x';")).toEqual({ type: "block", name: "x" });
  });
});

describe("bundles", () => {
  async function dirBundle(files: Record<string, string>): Promise<string> {
    const d = await freshDir();
    for (const [rel, content] of Object.entries(files)) {
      await fs.mkdir(path.dirname(path.join(d, rel)), { recursive: true });
      await fs.writeFile(path.join(d, rel), content);
    }
    return d;
  }

  it("finds blueprint.json at the root of a folder and reads bundled files", async () => {
    const b = await loadBundle(await dirBundle({ "blueprint.json": BP, "files/note.txt": "hello" }));
    expect(b.kind).toBe("directory");
    expect(b.blueprintDir).toBe("");
    expect((await b.resolver().resolve({ bundled: "files/note.txt" })).toString()).toBe("hello");
  });

  it("finds blueprint.json one folder down and ignores __MACOSX", async () => {
    const b = await loadBundle(await dirBundle({ "demo/blueprint.json": BP, "demo/files/note.txt": "x", "__MACOSX/demo/blueprint.json": "junk" }));
    expect(b.blueprintDir).toBe("demo");
    expect((await b.files.readFile("files/note.txt", 100)).toString()).toBe("x");
  });

  it("refuses two candidates and none", async () => {
    await expect(loadBundle(await dirBundle({ "a/blueprint.json": BP, "b/blueprint.json": BP }))).rejects.toThrow(
      /more than one blueprint.json \(a\/blueprint.json, b\/blueprint.json\)/,
    );
    await expect(loadBundle(await dirBundle({ "blueprint.json": BP, "a/blueprint.json": BP }))).rejects.toThrow(/more than one/);
    await expect(loadBundle(await dirBundle({ "a/b/blueprint.json": BP }))).rejects.toThrow(/no blueprint.json/);
  });

  it("refuses bundled paths that escape or go through symlinks", async () => {
    const outside = await dirBundle({ "secret.txt": "s3cret" });
    const d = await dirBundle({ "blueprint.json": BP });
    await fs.symlink(path.join(outside, "secret.txt"), path.join(d, "link.txt"));
    await fs.symlink(outside, path.join(d, "linkdir"));
    const b = await loadBundle(d);
    await expect(b.files.readFile("link.txt", 100)).rejects.toThrow(/symbolic link/);
    await expect(b.files.readFile("linkdir/secret.txt", 100)).rejects.toThrow(/symbolic link/);
    await expect(b.files.readFile("../secret.txt", 100)).rejects.toThrow(/climbs out/);
    await expect(b.files.readFile("/etc/passwd", 100)).rejects.toThrow(/absolute/);
    await expect(b.files.readFile("missing.txt", 100)).rejects.toThrow(/not in the bundle/);
  });

  it("refuses a symlinked blueprint.json", async () => {
    const outside = await dirBundle({ "blueprint.json": BP });
    const d = await freshDir();
    await fs.symlink(path.join(outside, "blueprint.json"), path.join(d, "blueprint.json"));
    await expect(loadBundle(d)).rejects.toThrow(/symbolic link/);
  });

  it("reads ZIP bundles at the root or one level down, ignoring __MACOSX", async () => {
    const root = await loadBundle(await zipFile([{ name: "blueprint.json", data: BP }, { name: "files/note.txt", data: "zip!" }]));
    expect(root.kind).toBe("zip");
    expect((await root.resolver().resolve({ bundled: "files/note.txt" })).toString()).toBe("zip!");
    await root.close();

    const nested = await loadBundle(
      await zipFile([
        { name: "demo/" },
        { name: "demo/blueprint.json", data: BP, deflate: true },
        { name: "demo/files/note.txt", data: "nested" },
        { name: "__MACOSX/demo/._blueprint.json", data: "junk" },
        { name: "__MACOSX/blueprint.json", data: "junk" },
      ]),
    );
    expect(nested.blueprintDir).toBe("demo");
    expect((await nested.files.readFile("files/note.txt", 100)).toString()).toBe("nested");
    await expect(nested.files.readFile("../demo/blueprint.json", 100)).rejects.toThrow(/climbs out/);
    await nested.close();
  });

  it("refuses ZIP bundles with two candidates, or none", async () => {
    await expect(loadBundle(await zipFile([{ name: "a/blueprint.json", data: BP }, { name: "b/blueprint.json", data: BP }]))).rejects.toThrow(/more than one/);
    await expect(loadBundle(await zipFile([{ name: "a/b/blueprint.json", data: BP }]))).rejects.toThrow(/no blueprint.json/);
  });

  it("reports blueprint errors with the file they came from", async () => {
    await expect(loadBundle(await zipFile([{ name: "demo/blueprint.json", data: '{"steps": [' }]))).rejects.toThrow(/demo\/blueprint.json: Invalid blueprint JSON at line 1/);
  });

  it("loads the example bundle and the example blueprint from docs/examples", async () => {
    const b = await loadBundle(path.resolve("docs/examples/demo-bundle"));
    const install = b.parsed.steps.find((s) => s.name === "installMoodlePlugin");
    const zipBytes = await b.resolver().resolve(install?.args.data as { bundled: string });
    const zipPath = path.join(tmp, "demo-plugin.zip");
    await fs.writeFile(zipPath, zipBytes);
    expect(await installPluginZip(zipPath, await freshDir(), { layout: "public" })).toMatchObject({ component: "local_mdinddemo", dir: "public/local/mdinddemo" });
    const demo = await loadBundle(path.resolve("docs/examples/demo-blueprint.json"));
    expect(demo.kind).toBe("file");
    expect(demo.parsed.steps.map((s) => s.name)).toEqual(expect.arrayContaining(["createCategory", "createCourse", "createUsers", "enrolUser", "addModule", "setConfig"]));
  });
});
