import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs/promises";
import fss from "node:fs";
import http from "node:http";
import type net from "node:net";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";

/**
 * The Moodle build library (lib/moodle/) on a real filesystem: folders, .tgz and .zip packages,
 * uploads, the sources folder, a git repository made here, a download from a local server laid
 * out like download.moodle.org. Hostile archives must be refused with nothing left behind.
 */
const work = fss.mkdtempSync(path.join(os.tmpdir(), "mdind-moodle-lib-"));
const home = path.join(work, "home");
const sources = path.join(work, "sources");
process.env.MDIND_HOME = home;
process.env.MDIND_MOODLE_SOURCES = sources;
delete process.env.MOODLE_SOURCE;
delete process.env.MDIND_ALLOW_FILE_GIT;

const lib = await import("../../lib/moodle/library");
const { extractArchive } = await import("../../lib/moodle/extract");
const { libraryDir, treeDir } = await import("../../lib/moodle/paths");
const { AppError, ValidationError, NotFoundError, ConflictError } = await import("../../lib/errors");

interface TreeOpts {
  branch?: string;
  release?: string;
  version?: string;
  /** 5.1 layout: version.php in public/, vendor/ beside it. */
  publicDir?: boolean;
  vendor?: boolean;
}

let n = 0;
/** A small fake Moodle: version.php, a few files, a config.php that must not survive the add. */
async function makeTree(o: TreeOpts = {}, parent = path.join(work, `t${n++}`)): Promise<string> {
  const root = path.join(parent, "moodle");
  const web = o.publicDir ? path.join(root, "public") : root;
  await fs.mkdir(path.join(web, "lib"), { recursive: true });
  await fs.writeFile(
    path.join(web, "version.php"),
    `<?php\n$version  = ${o.version ?? "2024100705.01"};\n$release  = '${o.release ?? "4.5.5 (Build: 20250613)"}';\n$branch   = '${o.branch ?? "405"}';\n`,
  );
  await fs.writeFile(path.join(web, "index.php"), "<?php echo 'moodle';\n");
  await fs.writeFile(path.join(web, "lib", "setup.php"), "<?php\n");
  await fs.writeFile(path.join(root, "config.php"), "<?php // a user's own config\n");
  if (o.vendor) {
    await fs.mkdir(path.join(root, "vendor"), { recursive: true });
    await fs.writeFile(path.join(root, "vendor", "autoload.php"), "<?php\n");
  }
  return root;
}

/** tar -czf of the tree's parent: the package holds moodle/ like the official ones. */
function tgzOf(root: string, file = path.join(work, `p${n++}.tgz`)): string {
  execFileSync("tar", ["-czf", file, "-C", path.dirname(root), path.basename(root)]);
  return file;
}

function zipOf(root: string, file = path.join(work, `p${n++}.zip`), extra: string[] = []): string {
  execFileSync("zip", ["-qr", ...extra, file, path.basename(root)], { cwd: path.dirname(root) });
  return file;
}

type Entry = { name: string; type?: "file" | "directory" | "symlink" | "link" | "character-device" | "fifo"; body?: string; linkname?: string; size?: number };
/** A hand-made .tgz, for entries tar(1) would never write. */
async function craftTgz(entries: Entry[]): Promise<string> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => p.on("end", () => r()));
  for (const e of entries) {
    if (e.type && e.type !== "file") p.entry({ name: e.name, type: e.type, linkname: e.linkname, size: 0 });
    else p.entry({ name: e.name, size: Buffer.byteLength(e.body ?? "") }, e.body ?? "");
  }
  p.finalize();
  await done;
  const file = path.join(work, `h${n++}.tgz`);
  await fs.writeFile(file, gzipSync(Buffer.concat(chunks)));
  return file;
}

const VERSION_PHP = "<?php\n$version = 2024100705.02;\n$release = '4.5.5+ (Build: 20250620)';\n$branch = '405';\n";

/** What the library folder holds besides builds must never include a half-made one. */
async function leftovers(): Promise<string[]> {
  return (await fs.readdir(libraryDir()).catch(() => [] as string[])).filter((e) => /partial|removing/.test(e));
}

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected a failure");
}

afterAll(async () => {
  await fs.rm(work, { recursive: true, force: true });
});

describe("adding builds", () => {
  let first: Awaited<ReturnType<typeof lib.addBuild>>;

  it("adds a folder: id, metadata, a root-owned read-only tree without config.php", async () => {
    const root = await makeTree();
    first = await lib.addBuild(root);
    expect(first.id).toMatch(/^4\.5-2024100705\.01-[0-9a-f]{8}$/);
    expect(first).toMatchObject({ branch: "4.5", release: "4.5.5 (Build: 20250613)", version: "2024100705.01", publicDir: false, origin: "disk", originDetail: root, vendor: false, files: 3 });
    expect(first.sizeBytes).toBeGreaterThan(0);
    const tree = treeDir(first.id);
    expect(fss.existsSync(path.join(tree, "config.php"))).toBe(false);
    expect(fss.existsSync(path.join(root, "config.php"))).toBe(true);
    expect(fss.statSync(path.join(tree, "index.php")).uid).toBe(0);
    expect(fss.statSync(path.join(tree, "lib")).mode & 0o022).toBe(0);
    const json = JSON.parse(await fs.readFile(path.join(libraryDir(), first.id, "build.json"), "utf8"));
    expect(json).toEqual(first);
  });

  it("is idempotent: the same release and $version is stored once", async () => {
    const again = await lib.addBuild(await makeTree());
    expect(again.id).toBe(first.id);
    const tgz = await lib.addBuild(tgzOf(await makeTree()));
    expect(tgz.id).toBe(first.id);
    expect((await lib.listBuilds()).map((b) => b.id)).toEqual([first.id]);
    expect(await leftovers()).toEqual([]);
  });

  it("adds a .tgz (unpacked from its moodle/ folder) and a 5.1-style .zip with vendor/", async () => {
    const t = await lib.addBuild(tgzOf(await makeTree({ release: "4.5.6 (Build: 20250801)", version: "2024100706.00" })));
    expect(t).toMatchObject({ branch: "4.5", version: "2024100706.00", origin: "disk", files: 3 });
    expect(fss.existsSync(path.join(treeDir(t.id), "version.php"))).toBe(true);
    const z = await lib.addBuild(zipOf(await makeTree({ branch: "501", release: "5.1.0 (Build: 20251006)", version: "2025100600.00", publicDir: true, vendor: true })));
    expect(z).toMatchObject({ branch: "5.1", publicDir: true, vendor: true, files: 4 });
    expect(fss.existsSync(path.join(treeDir(z.id), "public", "version.php"))).toBe(true);
    expect(fss.existsSync(path.join(treeDir(z.id), "config.php"))).toBe(false);
    expect(await leftovers()).toEqual([]);
  });

  it("refuses what is not a Moodle build: the fixture app, a package without version.php, a wrong extension", async () => {
    const fixture = path.resolve(import.meta.dirname, "..", "fixture-app");
    expect((await failure(lib.addBuild(fixture))).message).toMatch(/not a Moodle release: .*'fixture'/);
    const junk = await craftTgz([{ name: "a/readme.txt", body: "x" }, { name: "b/readme.txt", body: "y" }]);
    expect((await failure(lib.addBuild(junk))).message).toMatch(/not a Moodle package/);
    const txt = path.join(work, "notes.txt");
    await fs.writeFile(txt, "x");
    expect(await failure(lib.addBuild(txt))).toBeInstanceOf(ValidationError);
    expect(await failure(lib.addBuild(path.join(work, "missing")))).toBeInstanceOf(ValidationError);
    expect(await leftovers()).toEqual([]);
  });
});

describe("resolving and removing", () => {
  it("resolves auto, a branch, a release and an id to the newest match", async () => {
    const all = await lib.listBuilds();
    expect(all.map((b) => b.version)).toEqual(["2025100600.00", "2024100706.00", "2024100705.01"]);
    expect((await lib.resolveBuild("auto")).branch).toBe("5.1");
    expect((await lib.resolveBuild("4.5")).version).toBe("2024100706.00");
    expect((await lib.resolveBuild("4.5.5")).version).toBe("2024100705.01");
    expect((await lib.resolveBuild("5.1.0")).branch).toBe("5.1");
    const oldest = all[2];
    expect((await lib.resolveBuild(oldest.id)).id).toBe(oldest.id);
  });

  it("names what the library holds and how to add one when nothing matches", async () => {
    const e = await failure(lib.resolveBuild("4.1"));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toMatch(/^No Moodle build for 4\.1 in the library \(it has 5\.1\.0 .*\)\. Add one: moodle-dind moodle add PATH, moodle-dind moodle download 4\.1, or upload it on the dashboard's Moodle page\.$/);
    expect(e.message).not.toContain("\n");
    expect(await failure(lib.resolveBuild("latest"))).toBeInstanceOf(ValidationError);
    expect(await failure(lib.resolveBuild("4.5-2024100705.01-ffffffff"))).toBeInstanceOf(ValidationError);
  });

  it("gives instances the tree through resolveSource, and that tree is hard-linkable", async () => {
    const { resolveSource, isCachedTree } = await import("../../instances/source");
    const s = await resolveSource("4.5.5");
    const b = await lib.resolveBuild("4.5.5");
    expect(s).toMatchObject({ dir: treeDir(b.id), buildId: b.id, branch: "4.5", origin: b.id, publicDir: false });
    expect(isCachedTree(s.dir)).toBe(true);
    expect(isCachedTree(path.join(work, "t0", "moodle"))).toBe(false);
    expect((await resolveSource("fixture")).buildId).toBeUndefined();
  });

  it("counts instances as users and refuses to remove a build while one uses it", async () => {
    const { listBuildsWithUsage, removeBuildChecked } = await import("../../instances/builds");
    const b = await lib.resolveBuild("4.5.6");
    const rec = path.join(home, "instances", "site-a", "instance.json");
    await fs.mkdir(path.dirname(rec), { recursive: true });
    await fs.writeFile(rec, JSON.stringify({ name: "site-a", source: { branch: "4.5", release: b.release, publicDir: false, origin: b.id, buildId: b.id } }));
    expect((await listBuildsWithUsage()).find((x) => x.id === b.id)?.usedBy).toEqual(["site-a"]);
    const e = await failure(removeBuildChecked(b.id));
    expect(e).toBeInstanceOf(ConflictError);
    expect(e.message).toContain("site-a");
    expect((await lib.getBuild(b.id)).id).toBe(b.id);
    await fs.rm(path.dirname(rec), { recursive: true });
    // What the build leaves elsewhere goes with it: its templates and spare trees, nothing else.
    const { templateKey, templateDir } = await import("../../instances/templates");
    const source = { branch: b.branch, release: b.release, origin: b.id, publicDir: false };
    const mine = templateDir(templateKey({ source, spec: { db: { engine: "mariadb", version: "10.11" } } as never }, b.version));
    const other = templateDir(templateKey({ source: { ...source, origin: "elsewhere" }, spec: { db: { engine: "mariadb", version: "10.11" } } as never }, b.version));
    for (const d of [mine, other, path.join(home, "cache", "spares", b.id)]) await fs.mkdir(path.join(d, "x"), { recursive: true });
    await removeBuildChecked(b.id);
    expect(fss.existsSync(mine)).toBe(false);
    expect(fss.existsSync(other)).toBe(true);
    expect(fss.existsSync(path.join(home, "cache", "spares", b.id))).toBe(false);
    expect(await failure(lib.getBuild(b.id))).toBeInstanceOf(NotFoundError);
    expect(fss.existsSync(path.join(libraryDir(), b.id))).toBe(false);
    expect(await leftovers()).toEqual([]);
  });

  it("refuses a malformed id before touching the disk", async () => {
    expect(await failure(lib.removeBuild("../../etc"))).toBeInstanceOf(ValidationError);
    expect(await failure(lib.getBuild("4.5-2024100705.01-zzzzzzzz"))).toBeInstanceOf(ValidationError);
  });
});

describe("hostile archives", () => {
  const ok = { name: "moodle/version.php", body: VERSION_PHP };
  const cases: [string, () => Promise<string>, RegExp][] = [
    ["a ../ entry", () => craftTgz([ok, { name: "moodle/../../evil.php", body: "x" }]), /escapes the archive/],
    ["an absolute path", () => craftTgz([ok, { name: "/tmp/mdind-evil.php", body: "x" }]), /is absolute/],
    ["a symlink", () => craftTgz([ok, { name: "moodle/lib", type: "symlink", linkname: "/etc" }]), /symlink; only files and directories/],
    ["a hard link", () => craftTgz([ok, { name: "moodle/passwd", type: "link", linkname: "/etc/passwd" }]), /link; only files and directories/],
    ["a device", () => craftTgz([ok, { name: "moodle/tty", type: "character-device" }]), /character-device; only files/],
    ["a fifo", () => craftTgz([ok, { name: "moodle/pipe", type: "fifo" }]), /fifo; only files/],
    ["a duplicate entry", () => craftTgz([ok, { name: "moodle/a.php", body: "1" }, { name: "moodle/a.php", body: "2" }]), /appears twice/],
    ["a symlink in a zip", async () => {
      const root = await makeTree({ version: "2024100705.03", release: "4.5.5+ (Build: 3)" });
      await fs.symlink("/etc/passwd", path.join(root, "passwd"));
      return zipOf(root, undefined, ["--symlinks"]);
    }, /symbolic link/],
    ["not gzip at all", async () => {
      const f = path.join(work, `bad${n++}.tgz`);
      await fs.writeFile(f, "this is not an archive");
      return f;
    }, /not a readable gzip tar/],
  ];

  for (const [what, make, why] of cases) {
    it(`refuses ${what}, leaving nothing in the library`, async () => {
      const before = (await lib.listBuilds()).map((b) => b.id);
      const e = await failure(lib.addBuild(await make()));
      expect(e).toBeInstanceOf(ValidationError);
      expect(e.message).toMatch(why);
      expect((await lib.listBuilds()).map((b) => b.id)).toEqual(before);
      expect(await leftovers()).toEqual([]);
      expect(fss.existsSync("/tmp/mdind-evil.php")).toBe(false);
      expect(fss.existsSync(path.join(work, "evil.php"))).toBe(false);
    });
  }

  it("caps the number of entries and the unpacked size", async () => {
    const many = await craftTgz([ok, ...Array.from({ length: 10 }, (_, i) => ({ name: `moodle/f${i}.php`, body: "x" }))]);
    const dest = path.join(work, `x${n++}`);
    expect((await failure(extractArchive(many, dest, { limits: { maxEntries: 5 } }))).message).toMatch(/more than 5 entries/);
    expect(fss.existsSync(dest)).toBe(false);
    const big = await craftTgz([ok, { name: "moodle/big.bin", body: "x".repeat(5000) }]);
    expect((await failure(extractArchive(big, dest, { limits: { maxBytes: 4000 } }))).message).toMatch(/more than 4000 bytes/);
    expect((await failure(extractArchive(big, dest, { limits: { maxEntryBytes: 4000 } }))).message).toMatch(/too large/);
    expect(fss.existsSync(dest)).toBe(false);
    // The same caps through the library, from the environment.
    process.env.MDIND_MOODLE_MAX_ENTRIES = "5";
    try {
      expect((await failure(lib.addBuild(many))).message).toMatch(/more than 5 entries/);
    } finally {
      delete process.env.MDIND_MOODLE_MAX_ENTRIES;
    }
    process.env.MDIND_MOODLE_MAX_BYTES = "4000";
    try {
      expect(await failure(lib.addBuild(big))).toBeInstanceOf(ValidationError);
    } finally {
      delete process.env.MDIND_MOODLE_MAX_BYTES;
    }
    expect(await leftovers()).toEqual([]);
  });

  it("refuses a folder holding a link out of the tree", async () => {
    const root = await makeTree({ version: "2024100705.04", release: "4.5.5+ (Build: 4)" });
    await fs.symlink("/etc", path.join(root, "lib", "etc"));
    expect((await failure(lib.addBuild(root))).message).toMatch(/link pointing outside/);
    expect(await leftovers()).toEqual([]);
  });
});

describe("uploads", () => {
  it("streams an upload in, and refuses one over the cap with nothing kept", async () => {
    const file = tgzOf(await makeTree({ version: "2024100707.00", release: "4.5.7 (Build: 20251001)" }));
    const bytes = await fs.readFile(file);
    const chunks = () => Readable.from([bytes.subarray(0, 100), bytes.subarray(100)]);
    const e = await failure(lib.addUploaded(chunks(), "moodle-4.5.7.tgz", 100));
    expect(e).toBeInstanceOf(lib.UploadTooLargeError);
    expect((e as InstanceType<typeof lib.UploadTooLargeError>).tooLarge).toBe(true);
    expect((e as InstanceType<typeof AppError>).kind).toBe("validation");
    expect(await leftovers()).toEqual([]);
    expect(await failure(lib.addUploaded(chunks(), "../evil.tgz", 1e6))).toBeInstanceOf(ValidationError);
    expect(await failure(lib.addUploaded(chunks(), "moodle.exe", 1e6))).toBeInstanceOf(ValidationError);
    const phases = new Set<string>();
    const b = await lib.addUploaded(chunks(), "moodle-4.5.7.tgz", 1e6, (p) => phases.add(p.phase));
    expect(b).toMatchObject({ origin: "upload", originDetail: "moodle-4.5.7.tgz", version: "2024100707.00" });
    expect([...phases]).toEqual(expect.arrayContaining(["upload", "extract", "check"]));
    expect(await leftovers()).toEqual([]);
  });
});

describe("the sources folder and MOODLE_SOURCE", () => {
  let fromFolder: string;

  beforeAll(async () => {
    await fs.mkdir(sources, { recursive: true });
    tgzOf(await makeTree({ version: "2024100709.00", release: "4.5.9 (Build: 20251101)" }), path.join(sources, "moodle-4.5.9.tgz"));
    const t = await makeTree({ branch: "500", version: "2025041400.00", release: "5.0 (Build: 20250414)" });
    await fs.cp(path.dirname(t), path.join(sources, "moodle-5.0"), { recursive: true });
    await fs.writeFile(path.join(sources, "broken.tgz"), "not gzip");
    await fs.writeFile(path.join(sources, "README.txt"), "ignored: not a package");
  });

  it("adds every package and tree there on first use and skips the broken one", async () => {
    const builds = await lib.listBuilds();
    const mine = builds.filter((b) => b.origin === "moodle-sources");
    expect(mine.map((b) => path.basename(b.originDetail)).sort()).toEqual(["moodle-4.5.9.tgz", "moodle-5.0"]);
    const scan = await lib.scanSources();
    expect(scan.skipped.map((s) => path.basename(s.entry))).toEqual(["broken.tgz"]);
    fromFolder = mine.find((b) => b.branch === "4.5")!.id;
    expect(fss.existsSync(path.join(libraryDir(), "sources.json"))).toBe(true);
  });

  it("does not add again what it has seen; a removed build stays removed until its package changes", async () => {
    const before = (await lib.getBuild(fromFolder)).addedAt;
    await lib.listBuilds();
    expect((await lib.getBuild(fromFolder)).addedAt).toBe(before);
    await lib.removeBuild(fromFolder);
    expect((await lib.listBuilds()).some((b) => b.id === fromFolder)).toBe(false);
    const pkg = path.join(sources, "moodle-4.5.9.tgz");
    const later = new Date(Date.now() + 5000);
    await fs.utimes(pkg, later, later);
    expect((await lib.listBuilds()).some((b) => b.id === fromFolder)).toBe(true);
  });

  it("auto prefers MOODLE_SOURCE's build over newer ones, and says when MOODLE_SOURCE is unusable", async () => {
    const root = await makeTree({ version: "2024100704.00", release: "4.5.4 (Build: 20250401)" });
    process.env.MOODLE_SOURCE = root;
    try {
      const b = await lib.resolveBuild("auto");
      expect(b).toMatchObject({ origin: "env", version: "2024100704.00" });
      process.env.MOODLE_SOURCE = path.join(work, "nowhere");
      expect((await failure(lib.resolveBuild("auto"))).message).toMatch(/MOODLE_SOURCE .* does not exist/);
    } finally {
      delete process.env.MOODLE_SOURCE;
    }
    expect((await lib.resolveBuild("auto")).branch).toBe("5.1");
  });
});

describe("git", () => {
  let bare: string;

  beforeAll(async () => {
    const repo = path.join(work, "repo");
    const root = await makeTree({ version: "2024100708.00", release: "4.5.8 (Build: 20251015)" }, path.join(work, "gitsrc"));
    await fs.cp(root, repo, { recursive: true });
    const git = (...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@example.test", ...args], { cwd: repo, stdio: "pipe" });
    git("init", "-q");
    git("add", "-A");
    git("commit", "-qm", "Moodle 4.5.8");
    git("tag", "v4.5.8");
    bare = path.join(work, "moodle.git");
    execFileSync("git", ["clone", "-q", "--bare", repo, bare], { stdio: "pipe" });
  });

  it("refuses local paths unless allowed, and hostile URLs and refs", async () => {
    expect((await failure(lib.addFromGit(bare, "v4.5.8"))).message).toMatch(/only http/);
    for (const url of ["ext::sh -c id", "file:///etc", "ssh://x/y", "-uhttps://x", "https://u:p@example.test/x.git"]) {
      expect(await failure(lib.addFromGit(url, "v4.5.8"))).toBeInstanceOf(ValidationError);
    }
    process.env.MDIND_ALLOW_FILE_GIT = "1";
    try {
      for (const ref of ["-x", "--upload-pack=id", "a..b", "a b", ""]) {
        expect(await failure(lib.addFromGit(bare, ref))).toBeInstanceOf(ValidationError);
      }
    } finally {
      delete process.env.MDIND_ALLOW_FILE_GIT;
    }
  });

  it("clones a tag of a local bare repository into the library, without .git", async () => {
    process.env.MDIND_ALLOW_FILE_GIT = "1";
    try {
      expect((await failure(lib.addFromGit(bare, "v4.5.8", undefined, "5.1"))).message).toMatch(/expected Moodle 5\.1/);
      expect(await failure(lib.addFromGit(bare, "v9.9.9"))).toBeInstanceOf(AppError);
      const b = await lib.addFromGit(bare, "v4.5.8", undefined, "4.5.8");
      expect(b).toMatchObject({ origin: "git", originDetail: `${bare}#v4.5.8`, version: "2024100708.00", branch: "4.5" });
      expect(fss.existsSync(path.join(treeDir(b.id), ".git"))).toBe(false);
      expect(fss.existsSync(path.join(treeDir(b.id), "config.php"))).toBe(false);
    } finally {
      delete process.env.MDIND_ALLOW_FILE_GIT;
    }
    expect((await fs.readdir(libraryDir())).filter((e) => e.startsWith("git."))).toEqual([]);
    expect(await leftovers()).toEqual([]);
  });
});

describe("download", () => {
  let server: http.Server;
  let hits: string[];
  const saved = process.env.MDIND_MOODLE_DOWNLOAD_URL;

  beforeEach(() => {
    hits = [];
  });
  beforeAll(async () => {
    const body = await fs.readFile(tgzOf(await makeTree({ version: "2024100710.00", release: "4.5.10 (Build: 20251201)" })));
    const routes: Record<string, Buffer | string> = {
      "/stable405/moodle-4.5.10.tgz": body,
      "/stable405/moodle-4.5.10.tgz.sha256": `${createHash("sha256").update(body).digest("hex")}  moodle-4.5.10.tgz\n`,
    };
    server = http.createServer((req, res) => {
      hits.push(req.url ?? "");
      const r = routes[req.url ?? ""];
      if (r === undefined) res.writeHead(404).end();
      else res.writeHead(200, { "content-length": String(Buffer.byteLength(r)) }).end(r);
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    process.env.MDIND_MOODLE_DOWNLOAD_URL = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  });
  afterAll(async () => {
    if (saved === undefined) delete process.env.MDIND_MOODLE_DOWNLOAD_URL;
    else process.env.MDIND_MOODLE_DOWNLOAD_URL = saved;
    await new Promise<void>((r) => server.close(() => r()));
  });

  it("downloads a release, adds it and deletes the package; a second request downloads nothing", async () => {
    const phases = new Set<string>();
    const b = await lib.downloadBuild("4.5.10", (p) => phases.add(p.phase));
    expect(b).toMatchObject({ origin: "download", version: "2024100710.00" });
    expect(b.originDetail).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/stable405\/moodle-4\.5\.10\.tgz$/);
    expect(phases.has("download")).toBe(true);
    expect(await fs.readdir(path.join(libraryDir(), "downloads"))).toEqual([]);
    hits = [];
    expect((await lib.downloadBuild("4.5.10")).id).toBe(b.id);
    expect(hits).toEqual([]);
  });

  it("refuses a branch whose package is not published (404), adding nothing", async () => {
    const before = (await lib.listBuilds()).length;
    expect(await failure(lib.downloadBuild("4.1"))).toBeInstanceOf(NotFoundError);
    expect((await lib.listBuilds()).length).toBe(before);
  });
});
