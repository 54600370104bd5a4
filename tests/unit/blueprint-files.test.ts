import { afterEach, beforeEach, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { ValidationError } from "@/lib/errors";
import { parseSitePath } from "@/lib/blueprint";
import {
  copySiteFile,
  deleteSiteFile,
  makeSiteDir,
  moveSiteFile,
  removeSiteDir,
  unzipToSite,
  writeSiteFile,
  type SiteRoots,
} from "@/lib/blueprint/files";

/**
 * The file steps on real folders: a fake moodledata and code tree in a temp dir, with links planted
 * the way a compromised site could plant them (to a secret file and a folder outside both trees).
 * Every step must stay inside, refuse the link by name, and be idempotent.
 */
let base: string;
let roots: SiteRoots;
let outside: string;
const p = (s: string) => parseSitePath(s);
const read = (...seg: string[]) => fs.readFileSync(path.join(...seg), "utf8");

beforeEach(() => {
  base = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-bpfiles-"));
  roots = { moodledata: path.join(base, "moodledata"), code: path.join(base, "code") };
  outside = path.join(base, "outside");
  for (const d of [roots.moodledata, roots.code, outside]) fs.mkdirSync(d);
  fs.writeFileSync(path.join(outside, "secret"), "SECRET");
  // Planted: a folder link and a file link in moodledata, both pointing outside the site.
  fs.symlinkSync(outside, path.join(roots.moodledata, "evil"));
  fs.symlinkSync(path.join(outside, "secret"), path.join(roots.moodledata, "secret-link"));
});
afterEach(() => fs.rmSync(base, { recursive: true, force: true }));

function outsideUntouched() {
  expect(fs.readdirSync(outside)).toEqual(["secret"]);
  expect(read(outside, "secret")).toBe("SECRET");
}

describe("file steps", () => {
  it("mkdir makes nested folders once, then reports nothing to do", async () => {
    expect(await makeSiteDir(roots, p("/persist/moodledata/a/b/c"))).toMatchObject({ changed: true });
    expect(fs.statSync(path.join(roots.moodledata, "a/b/c")).isDirectory()).toBe(true);
    expect(await makeSiteDir(roots, p("/persist/moodledata/a/b/c"))).toEqual({ changed: false, detail: "/persist/moodledata/a/b/c exists" });
    expect(await makeSiteDir(roots, p("/www/moodle/local/x"))).toMatchObject({ changed: true });
    expect(fs.statSync(path.join(roots.code, "local/x")).isDirectory()).toBe(true);
  });

  it("writeFile writes, leaves identical content alone, replaces different content", async () => {
    expect(await writeSiteFile(roots, p("/persist/moodledata/d/f.txt"), Buffer.from("one"))).toMatchObject({ changed: true });
    expect(await writeSiteFile(roots, p("/persist/moodledata/d/f.txt"), Buffer.from("one"))).toMatchObject({ changed: false });
    expect(await writeSiteFile(roots, p("/persist/moodledata/d/f.txt"), Buffer.from("two"))).toMatchObject({ changed: true });
    expect(read(roots.moodledata, "d/f.txt")).toBe("two");
    expect(fs.readdirSync(path.join(roots.moodledata, "d"))).toEqual(["f.txt"]);
  });

  it("copyFile and moveFile are idempotent", async () => {
    await writeSiteFile(roots, p("/persist/moodledata/src.txt"), Buffer.from("data"));
    expect(await copySiteFile(roots, p("/persist/moodledata/src.txt"), p("/persist/moodledata/copy/dst.txt"))).toMatchObject({ changed: true });
    expect(await copySiteFile(roots, p("/persist/moodledata/src.txt"), p("/persist/moodledata/copy/dst.txt"))).toMatchObject({ changed: false });
    expect(await moveSiteFile(roots, p("/persist/moodledata/src.txt"), p("/persist/moodledata/moved.txt"))).toMatchObject({ changed: true });
    expect(fs.existsSync(path.join(roots.moodledata, "src.txt"))).toBe(false);
    expect(await moveSiteFile(roots, p("/persist/moodledata/src.txt"), p("/persist/moodledata/moved.txt"))).toMatchObject({
      changed: false,
      detail: expect.stringMatching(/already moved/),
    });
    await expect(moveSiteFile(roots, p("/persist/moodledata/nope"), p("/persist/moodledata/nope2"))).rejects.toThrow(/does not exist/);
  });

  it("rmdir removes a folder once, refuses a non-empty one unless recursive, and deleteFile removes a file once", async () => {
    await writeSiteFile(roots, p("/persist/moodledata/t/x.txt"), Buffer.from("x"));
    await expect(removeSiteDir(roots, p("/persist/moodledata/t"), false)).rejects.toThrow(/not empty/);
    expect(await deleteSiteFile(roots, p("/persist/moodledata/t/x.txt"))).toMatchObject({ changed: true });
    expect(await deleteSiteFile(roots, p("/persist/moodledata/t/x.txt"))).toMatchObject({ changed: false });
    await writeSiteFile(roots, p("/persist/moodledata/t/y.txt"), Buffer.from("y"));
    expect(await removeSiteDir(roots, p("/persist/moodledata/t"), true)).toMatchObject({ changed: true });
    expect(await removeSiteDir(roots, p("/persist/moodledata/t"), true)).toMatchObject({ changed: false });
    await expect(removeSiteDir(roots, p("/persist/moodledata/missing/deeper"), false)).resolves.toMatchObject({ changed: false });
  });

  it("unzip writes each entry once and refuses a link entry", async () => {
    const zip = path.join(base, "a.zip");
    fs.writeFileSync(zip, makeZip([{ name: "dir/" }, { name: "dir/a.txt", data: "A" }, { name: "b.txt", data: "B" }]));
    expect(await unzipToSite(roots, zip, p("/persist/moodledata/unz"))).toMatchObject({ changed: true });
    expect(read(roots.moodledata, "unz/dir/a.txt")).toBe("A");
    expect(await unzipToSite(roots, zip, p("/persist/moodledata/unz"))).toMatchObject({ changed: false });
    const bad = path.join(base, "bad.zip");
    fs.writeFileSync(bad, makeZip([{ name: "l", data: "/etc/passwd", mode: 0o120777 }]));
    await expect(unzipToSite(roots, bad, p("/persist/moodledata/unz2"))).rejects.toThrow(/symbolic link/);
  });
});

describe("file steps never follow a planted link", () => {
  it("refuses to write, copy, move or delete through a link to a folder or file outside", async () => {
    const attempts: [string, () => Promise<unknown>][] = [
      ["write into linked folder", () => writeSiteFile(roots, p("/persist/moodledata/evil/pwned"), Buffer.from("x"))],
      ["overwrite linked folder's file", () => writeSiteFile(roots, p("/persist/moodledata/evil/secret"), Buffer.from("x"))],
      ["write over a file link", () => writeSiteFile(roots, p("/persist/moodledata/secret-link"), Buffer.from("x"))],
      ["mkdir below a link", () => makeSiteDir(roots, p("/persist/moodledata/evil/sub"))],
      ["copy from a link", () => copySiteFile(roots, p("/persist/moodledata/secret-link"), p("/persist/moodledata/stolen"))],
      ["copy from below a link", () => copySiteFile(roots, p("/persist/moodledata/evil/secret"), p("/persist/moodledata/stolen"))],
      ["move into a link", () => moveSiteFile(roots, p("/persist/moodledata/evil/secret"), p("/persist/moodledata/stolen"))],
      ["delete through a link", () => deleteSiteFile(roots, p("/persist/moodledata/evil/secret"))],
      ["delete a file link", () => deleteSiteFile(roots, p("/persist/moodledata/secret-link"))],
      ["rmdir a folder link", () => removeSiteDir(roots, p("/persist/moodledata/evil"), true)],
      ["rmdir below a link", () => removeSiteDir(roots, p("/persist/moodledata/evil/x"), true)],
    ];
    for (const [what, run] of attempts) {
      await expect(run(), what).rejects.toThrow(/symbolic link/);
    }
    outsideUntouched();
    expect(fs.existsSync(path.join(roots.moodledata, "stolen"))).toBe(false);
    expect(fs.lstatSync(path.join(roots.moodledata, "evil")).isSymbolicLink()).toBe(true);
  });

  it("refuses an unzip whose destination is a link", async () => {
    const zip = path.join(base, "a.zip");
    fs.writeFileSync(zip, makeZip([{ name: "x.txt", data: "X" }]));
    await expect(unzipToSite(roots, zip, p("/persist/moodledata/evil"))).rejects.toThrow(/symbolic link/);
    outsideUntouched();
  });

  it("refuses '..', absolute paths outside the site and backslashes before anything runs", () => {
    for (const bad of ["/persist/moodledata/../outside/secret", "/etc/passwd", "../x", "/persist/moodledata/a\\..\\b", "/persist/moodledata/a\u0000b"]) {
      expect(() => parseSitePath(bad), bad).toThrow(ValidationError);
    }
  });
});

/** Minimal stored-entry ZIP writer (so a link entry can be built byte for byte). */
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
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(raw.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(0x0800, 8);
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
