import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installPluginZip } from "../../lib/blueprint";
import { LinkRefusedError, openDirInside, openFileInside } from "../../lib/nofollow";
import { BlueprintWorkDir, sameTree } from "../../instances/blueprint-work";
import { tailLogFile } from "../../instances/logfiles";
import { personalize } from "../../instances/templates";

/**
 * Folders the containers can write (moodledata, the code tree, the log folders) may hold links a
 * compromised container planted: to a file outside, or in place of a parent folder. The dashboard
 * must never read or write through them.
 */
let tmp: string;
let outside: string;
const saved = { ...process.env };
const SECRET = "host-secret-content\n";

beforeAll(() => {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-nofollow-"));
  outside = path.join(tmp, "outside");
  fs.mkdirSync(outside);
  fs.writeFileSync(path.join(outside, "secret.txt"), SECRET);
});
afterAll(() => {
  process.env = { ...saved };
  fs.rmSync(tmp, { recursive: true, force: true });
});

const fresh = (name: string) => {
  const d = path.join(tmp, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
};
const outsideNames = () => fs.readdirSync(outside).sort();

/** A plugin ZIP with one top folder, made by the zip tool from a real tree. */
function pluginZip(name: string, component: string, extra: Record<string, string> = {}): string {
  const src = fresh(`zipsrc-${name}-${Math.random().toString(36).slice(2)}`);
  fs.mkdirSync(path.join(src, name));
  fs.writeFileSync(path.join(src, name, "version.php"), `<?php\n$plugin->component = '${component}';\n`);
  for (const [f, c] of Object.entries(extra)) fs.writeFileSync(path.join(src, name, f), c);
  const zip = path.join(src, "p.zip");
  execFileSync("zip", ["-qr", zip, name], { cwd: src });
  return zip;
}

describe("lib/nofollow", () => {
  it("refuses a link in a parent folder and a link in place of the file", async () => {
    const root = fresh("nf-root");
    fs.mkdirSync(path.join(root, "real"));
    fs.symlinkSync(outside, path.join(root, "linked"));
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(root, "real", "file.txt"));
    await expect(openDirInside(root, "linked")).rejects.toBeInstanceOf(LinkRefusedError);
    await expect(openFileInside(root, "linked/secret.txt", "r")).rejects.toBeInstanceOf(LinkRefusedError);
    await expect(openFileInside(root, "real/file.txt", "r")).rejects.toBeInstanceOf(LinkRefusedError);
    await expect(openFileInside(root, "linked/new.txt", "wx")).rejects.toBeInstanceOf(LinkRefusedError);
    await expect(openDirInside(root, "linked/sub", { create: true })).rejects.toBeInstanceOf(LinkRefusedError);
    expect(outsideNames()).toEqual(["secret.txt"]);
    const d = await openDirInside(root, "real/a/b", { create: true });
    expect(fs.statSync(path.join(root, "real", "a", "b")).isDirectory()).toBe(true);
    await d.close();
  });
});

describe("plugin ZIPs into a code tree with planted links", () => {
  it("never writes through a type folder that is a link", async () => {
    const code = fresh("code-1");
    fs.symlinkSync(outside, path.join(code, "local"));
    await expect(installPluginZip(pluginZip("foo", "local_foo"), code, { layout: "legacy" })).rejects.toBeInstanceOf(LinkRefusedError);
    expect(outsideNames()).toEqual(["secret.txt"]);
  });

  it("never writes through a link further up (mod/assign for an assign submission plugin)", async () => {
    const code = fresh("code-2");
    fs.mkdirSync(path.join(code, "mod"));
    fs.symlinkSync(outside, path.join(code, "mod", "assign"));
    await expect(installPluginZip(pluginZip("bar", "assignsubmission_bar"), code, { layout: "legacy" })).rejects.toBeInstanceOf(LinkRefusedError);
    expect(outsideNames()).toEqual(["secret.txt"]);
  });

  it("replaces a link standing where the plugin goes without touching its target", async () => {
    const code = fresh("code-3");
    fs.mkdirSync(path.join(code, "local"));
    fs.symlinkSync(outside, path.join(code, "local", "foo"));
    const r = await installPluginZip(pluginZip("foo", "local_foo"), code, { layout: "legacy", replace: true });
    expect(r.dir).toBe("local/foo");
    expect(fs.lstatSync(path.join(code, "local", "foo")).isDirectory()).toBe(true);
    expect(fs.readdirSync(path.join(code, "local")).sort()).toEqual(["foo"]);
    expect(outsideNames()).toEqual(["secret.txt"]);
    expect(fs.readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe(SECRET);
  });

  it("replaces an installed plugin whose inside has links, removing only the links", async () => {
    const code = fresh("code-4");
    fs.mkdirSync(path.join(code, "local", "foo"), { recursive: true });
    fs.symlinkSync(outside, path.join(code, "local", "foo", "escape"));
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(code, "local", "foo", "version.php"));
    await installPluginZip(pluginZip("foo", "local_foo"), code, { layout: "legacy", replace: true });
    expect(fs.readdirSync(path.join(code, "local", "foo"))).toEqual(["version.php"]);
    expect(outsideNames()).toEqual(["secret.txt"]);
  });
});

describe("blueprint scratch folder in moodledata", () => {
  it("refuses .mdind-blueprint when it is a link, writing nothing outside", async () => {
    const moodledata = fresh("md-1");
    fs.symlinkSync(outside, path.join(moodledata, ".mdind-blueprint"));
    await expect(BlueprintWorkDir.open(moodledata, "run-1")).rejects.toBeInstanceOf(LinkRefusedError);
    expect(outsideNames()).toEqual(["secret.txt"]);
  });

  it("keeps its run folder pinned: a link swapped in for .mdind-blueprint later changes nothing", async () => {
    const moodledata = fresh("md-2");
    const work = await BlueprintWorkDir.open(moodledata, "run-2");
    // The container renames the shared folder away and plants a link to the host in its place.
    fs.renameSync(path.join(moodledata, ".mdind-blueprint"), path.join(moodledata, "moved"));
    fs.mkdirSync(path.join(outside, "run-2"));
    fs.symlinkSync(outside, path.join(moodledata, ".mdind-blueprint"));
    await work.writeFile("1-resource", "bytes");
    const scratch = await work.mkdir("scratch-1");
    await installPluginZip(pluginZip("foo", "local_foo"), scratch, { layout: "legacy" });
    expect(fs.readdirSync(path.join(outside, "run-2"))).toEqual([]);
    expect(fs.readdirSync(path.join(moodledata, "moved", "run-2")).sort()).toEqual(["1-resource", "scratch-1"]);
    await work.close();
    expect(fs.readdirSync(path.join(moodledata, "moved"))).toEqual([]);
    expect(fs.existsSync(path.join(outside, "run-2"))).toBe(true);
    fs.rmdirSync(path.join(outside, "run-2"));
  });

  it("never writes a resource through a link planted under its name", async () => {
    const moodledata = fresh("md-3");
    const work = await BlueprintWorkDir.open(moodledata, "run-3");
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(work.path, "1-plugin.zip"));
    await expect(work.writeFile("1-plugin.zip", "zip bytes")).rejects.toThrow();
    expect(fs.readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe(SECRET);
    await work.close();
  });

  it("compares an installed plugin without reading through its links", async () => {
    const a = fresh("same-a");
    const b = fresh("same-b");
    fs.writeFileSync(path.join(a, "version.php"), SECRET);
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(b, "version.php"));
    expect(await sameTree(a, b)).toBe(false);
  });
});

describe("log follow", () => {
  const NAME = "logsite";
  let logs: string;
  beforeAll(() => {
    const home = fresh("home");
    process.env.MDIND_HOME = home;
    const inst = path.join(home, "instances", NAME);
    logs = path.join(inst, "logs", "php-8.2");
    fs.mkdirSync(logs, { recursive: true });
    fs.writeFileSync(path.join(inst, "instance.json"), JSON.stringify({ name: NAME }));
  });

  it("refuses a log file that is a link to a host file", async () => {
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(logs, "evil.log"));
    await expect(tailLogFile(NAME, "php-8.2/evil.log", { tail: 10, follow: false })).rejects.toThrow();
  });

  it("stops following when the file is swapped for a link, never streaming the link's target", async () => {
    const file = path.join(logs, "fpm.log");
    fs.writeFileSync(file, "line 1\n");
    const out = await tailLogFile(NAME, "php-8.2/fpm.log", { tail: 10, follow: true });
    let got = "";
    out.on("data", (c: Buffer) => (got += c.toString()));
    const ended = new Promise<void>((r) => out.on("end", () => r()));
    fs.appendFileSync(file, "line 2\n");
    await new Promise((r) => setTimeout(r, 1500));
    // The container replaces the log by a link to a host file that is larger than what was read.
    fs.writeFileSync(path.join(outside, "big.txt"), `${"x".repeat(20)}\n${SECRET}`);
    fs.rmSync(file);
    fs.symlinkSync(path.join(outside, "big.txt"), file);
    await Promise.race([ended, new Promise((r) => setTimeout(r, 3000))]);
    out.destroy();
    expect(got).toContain("line 1");
    expect(got).toContain("line 2");
    expect(got).not.toContain("host-secret");
    fs.rmSync(path.join(outside, "big.txt"));
  });
});

describe("site reset script in moodledata/.mdind", () => {
  const NAME = "resetsite";
  let moodledata: string;
  beforeAll(() => {
    const home = fresh("home-reset");
    process.env.MDIND_HOME = home;
    const inst = path.join(home, "instances", NAME);
    moodledata = path.join(inst, "data", "moodledata");
    fs.mkdirSync(moodledata, { recursive: true });
    fs.mkdirSync(path.join(inst, "data", "code"), { recursive: true });
    fs.writeFileSync(path.join(inst, "instance.json"), JSON.stringify({ name: NAME, spec: { siteName: "S", adminEmail: "a@b.c" } }));
    fs.writeFileSync(path.join(inst, "secrets.json"), JSON.stringify({ adminUser: "admin", adminPassword: "pw", dbPassword: "db" }));
  });

  it("is never written through a planted .mdind link", async () => {
    fs.symlinkSync(outside, path.join(moodledata, ".mdind"));
    await expect(personalize(NAME, () => undefined)).rejects.toBeInstanceOf(LinkRefusedError);
    expect(outsideNames()).toEqual(["secret.txt"]);
    fs.rmSync(path.join(moodledata, ".mdind"));
  });

  it("replaces a link planted at the script's name instead of writing through it", async () => {
    fs.mkdirSync(path.join(moodledata, ".mdind"));
    fs.symlinkSync(path.join(outside, "secret.txt"), path.join(moodledata, ".mdind", "mdind_site_reset.php"));
    // The copy happens before the (here absent) container is asked to run it.
    await expect(personalize(NAME, () => undefined)).rejects.toThrow();
    expect(fs.readFileSync(path.join(outside, "secret.txt"), "utf8")).toBe(SECRET);
    const st = fs.lstatSync(path.join(moodledata, ".mdind", "mdind_site_reset.php"));
    expect(st.isFile()).toBe(true);
    expect(fs.readFileSync(path.join(moodledata, ".mdind", "mdind_site_reset.php"), "utf8")).toMatch(/^<\?php/);
  });
});
