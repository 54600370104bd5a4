import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import type net from "node:net";
import path from "node:path";
import Docker from "dockerode";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, get, ROOT, tempHome } from "../helpers/cli";

/**
 * The Moodle build library through the real CLI on the real engine: a package added with
 * `moodle add`, an instance created from it by branch, usage in `moodle list`, removal refused while
 * the instance exists, and `moodle download` from a local server laid out like download.moodle.org.
 * The package is the fixture app with a version.php naming a real branch (5.1: the fixture already
 * has 5.1's public/ layout), so php-fpm serves it exactly like the fixture.
 */
const home = tempHome("mdind-lib-it-");
const sources = path.join(home, "no-sources");
const sfx = process.pid.toString(36).slice(-4);
const NAME = `lib-${sfx}`;
let env: Record<string, string> = { MDIND_HOME: home, MDIND_MOODLE_SOURCES: sources };
let pkg: string;
let server: http.Server;
let made = false;

async function run(args: string[]) {
  const r = await cli([...args, "--json"], env);
  if (r.code !== 0) throw new Error(`${args.join(" ")} failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}

beforeAll(async () => {
  await new Docker().ping();
  fs.mkdirSync(sources);
  const tree = path.join(home, "pkg", "moodle");
  fs.cpSync(path.join(ROOT, "tests", "fixture-app"), tree, { recursive: true });
  const vp = path.join(tree, "public", "version.php");
  fs.writeFileSync(vp, fs.readFileSync(vp, "utf8").replace("'fixture 1.0'", "'5.1.0 (Build: 20251006)'").replace("$branch   = 'fixture'", "$branch   = '501'"));
  expect(fs.readFileSync(vp, "utf8")).toContain("$branch   = '501'");
  pkg = path.join(home, "moodle-5.1.0.tgz");
  execFileSync("tar", ["-czf", pkg, "-C", path.dirname(tree), "moodle"]);

  // download.moodle.org's layout: stable501/moodle-latest-501.tgz and its .sha256, on 127.0.0.1 only.
  const body = fs.readFileSync(pkg);
  const routes: Record<string, Buffer | string> = {
    "/stable501/moodle-latest-501.tgz": body,
    "/stable501/moodle-latest-501.tgz.sha256": `${createHash("sha256").update(body).digest("hex")}  moodle-latest-501.tgz\n`,
  };
  server = http.createServer((req, res) => {
    const r = routes[req.url ?? ""];
    if (r === undefined) res.writeHead(404).end();
    else res.writeHead(200, { "content-length": String(Buffer.byteLength(r)) }).end(r);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  env = { ...env, MDIND_MOODLE_DOWNLOAD_URL: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}` };
});

afterAll(async () => {
  if (made) await cli(["remove", NAME, "--yes"], env);
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(home, { recursive: true, force: true });
});

describe("Moodle build library (CLI, real engine)", () => {
  let id: string;

  it("adds a package with progress on stderr and lists it", async () => {
    const r = await cli(["moodle", "add", pkg], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/unpacking/);
    expect(r.stdout).toMatch(/^5\.1-2025100600\.00-[0-9a-f]{8}: Moodle 5\.1\.0/);
    const list = await run(["moodle", "list"]);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ branch: "5.1", release: "5.1.0 (Build: 20251006)", version: "2025100600.00", origin: "disk", vendor: false, usedBy: [] });
    id = list[0].id;
  });

  it("creates an instance from it by branch; the site answers on its 127.0.0.1 port", async () => {
    made = true;
    const view = await run(["create", NAME, "--moodle", "5.1", "--no-template"]);
    const page = await get(view.port, "/");
    expect(page.status).toBe(200);
    expect(JSON.parse(page.body)).toMatchObject({ app: "moodle-dind fixture", site: `Moodle ${NAME}` });
    const rec = JSON.parse(fs.readFileSync(path.join(home, "instances", NAME, "instance.json"), "utf8"));
    expect(rec.source).toMatchObject({ buildId: id, branch: "5.1" });
    // Its code is hard links into the build's tree, which stays root-owned.
    const tree = path.join(home, "cache", "moodle", id, "tree", "public", "index.php");
    const code = path.join(home, "instances", NAME, "data", "code", "public", "index.php");
    expect(fs.statSync(code).ino).toBe(fs.statSync(tree).ino);
    expect(fs.statSync(tree).uid).toBe(0);
  });

  it("shows the instance as the build's user and refuses to remove the build while it exists", async () => {
    const list = await run(["moodle", "list"]);
    expect(list.find((b: { id: string }) => b.id === id).usedBy).toEqual([NAME]);
    const r = await cli(["moodle", "remove", id, "--yes"], env);
    expect(r.code).toBe(3);
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(NAME);
    expect(fs.existsSync(path.join(home, "cache", "moodle", id, "tree"))).toBe(true);
  });

  it("removes the build once the instance is gone", async () => {
    expect((await cli(["remove", NAME, "--yes"], env)).code).toBe(0);
    made = false;
    const r = await cli(["moodle", "remove", id, "--yes"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(await run(["moodle", "list"])).toEqual([]);
    expect(fs.existsSync(path.join(home, "cache", "moodle", id))).toBe(false);
  });

  it("says what to do when asked for a version the library lacks", async () => {
    const r = await cli(["create", `${NAME}-x`, "--moodle", "4.5", "--no-install"], env);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/No Moodle build for 4\.5 in the library \(it is empty\)\. Add one: moodle-dind moodle add PATH, moodle-dind moodle download 4\.5/);
    expect(fs.existsSync(path.join(home, "instances", `${NAME}-x`))).toBe(false);
  });

  it("downloads a branch's latest package from a mirror into the library", async () => {
    const r = await cli(["moodle", "download", "5.1"], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/downloaded [\d.]+ MiB of [\d.]+ MiB \(100 %\), [\d.]+ MiB\/s/);
    const list = await run(["moodle", "list"]);
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ branch: "5.1", version: "2025100600.00", origin: "download", usedBy: [] });
    expect(fs.readdirSync(path.join(home, "cache", "moodle", "downloads"))).toEqual([]);
    // The operation log of the library's channel recorded both additions and the download.
    expect(fs.readdirSync(path.join(home, "operations", "_moodle")).length).toBeGreaterThanOrEqual(2);
  });
});
