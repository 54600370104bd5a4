import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { docker } from "../../lib/docker";
import { execIn } from "../../lib/exec";

/**
 * Adminer's PHP wrapper (dind/host/adminer/index.php) under a real PHP, with a stand-in for
 * Adminer that connects the way Adminer 5 does: it picks the driver from the query, asks
 * credentials() and "connects". The wrapper must refuse a foreign target before that happens.
 * The container has no network at all.
 */
const WRAPPER = path.resolve(__dirname, "../../dind/host/adminer/index.php");
const NAME = `mdind-adminer-wrapper-${process.pid.toString(36)}`;
const TOKEN = "B".repeat(43);
let work: string;
let image: string | undefined;

const STUB = `<?php
namespace Adminer;
class Adminer {
    function credentials(): array { return [SERVER, $_GET['username'] ?? '', 'pw']; }
    function login($login, $password) { return true; }
    function name() { return 'Adminer'; }
}
$adminer = \\adminer_object();
// "newdb" stands for a driver plugin the wrapper's list does not know: only credentials() can stop it.
foreach (['pgsql', 'sqlite', 'mssql', 'oracle', 'newdb'] as $d) {
    if (isset($_GET[$d])) { define('Adminer\\DRIVER', $d); break; }
}
if (!defined('Adminer\\DRIVER')) { define('Adminer\\DRIVER', 'server'); }
define('Adminer\\SERVER', '' . ($_GET[DRIVER] ?? ''));
if (!empty($_POST['auth'])) { echo 'LOGIN ', $_POST['auth']['driver'], ' ', $_POST['auth']['server']; return; }
if (isset($_GET['username'])) { $c = $adminer->credentials(); echo 'CONNECT ', DRIVER, ' ', $c[0]; return; }
echo 'PAGE';
`;

const HARNESS = `<?php
$case = json_decode($argv[1], true);
$_GET = $case['get'] ?? [];
$_POST = $case['post'] ?? [];
$_SERVER['REQUEST_METHOD'] = $_POST ? 'POST' : 'GET';
register_shutdown_function(function () { echo "\\nSTATUS ", http_response_code() ?: 200, "\\n"; });
require '/w/index.php';
`;

async function run(c: { get?: Record<string, unknown>; post?: Record<string, unknown> }): Promise<{ out: string; status: number }> {
  const r = await execIn(NAME, ["php", "/w/harness.php", JSON.stringify(c)], { env: ["MDIND_HOME=/home/mdind"], check: false });
  const m = /STATUS (\d+)/.exec(r.stdout);
  return { out: r.stdout.replace(/\nSTATUS \d+\n$/, ""), status: m ? Number(m[1]) : -1 };
}

beforeAll(async () => {
  const images = await docker().listImages({ filters: { reference: ["moodle-dind/php"] } });
  image = images.flatMap((i) => i.RepoTags ?? []).find((t) => t.startsWith("moodle-dind/php:"));
  if (!image) return;
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-adminer-wrapper-"));
  fs.mkdirSync(path.join(work, "w"));
  fs.mkdirSync(path.join(work, "home", "state", "adminer"), { recursive: true });
  fs.chmodSync(path.join(work, "home", "state", "adminer"), 0o777);
  fs.copyFileSync(WRAPPER, path.join(work, "w", "index.php"));
  fs.writeFileSync(path.join(work, "w", "harness.php"), HARNESS);
  fs.writeFileSync(path.join(work, "w", "adminer.php"), STUB);
  const c = await docker().createContainer({
    name: NAME,
    Image: image,
    Entrypoint: ["sleep", "600"],
    Cmd: [],
    HostConfig: {
      NetworkMode: "none",
      Binds: [`${work}/w:/w:ro`, `${work}/w/adminer.php:/usr/share/adminer/adminer.php:ro`, `${work}/home:/home/mdind`],
      AutoRemove: true,
    },
  });
  await c.start();
});

afterAll(async () => {
  if (!image) return;
  await docker().getContainer(NAME).remove({ force: true }).catch(() => undefined);
  fs.rmSync(work, { recursive: true, force: true });
});

describe("Adminer wrapper", () => {
  it("has a PHP image to run in (any moodle-dind/php)", () => {
    expect(image, "build one first: moodle-dind images build php").toBeTruthy();
  });

  it("opens an instance database named in the query", async () => {
    expect(await run({ get: { pgsql: "172.20.3.12", username: "moodle" } })).toEqual({ out: "CONNECT pgsql 172.20.3.12", status: 200 });
  });

  it.each([
    ["Adminer's login form naming a port on the host", { get: { pgsql: "127.0.0.1:7800" }, post: { auth: { driver: "pgsql", server: "127.0.0.1:7800", username: "x", password: "y" } } }],
    ["localhost", { get: { server: "localhost", username: "root" } }],
    ["a port on an instance address", { get: { pgsql: "172.20.3.12:7800", username: "moodle" } }],
    ["N out of range", { get: { pgsql: "172.20.300.12", username: "moodle" } }],
    ["a file through sqlite", { get: { sqlite: "/etc/passwd", username: "" } }],
    ["a username with no server (MySQL on localhost)", { get: { username: "root" } }],
    ["two drivers", { get: { pgsql: "172.20.3.12", server: "127.0.0.1", username: "x" } }],
    ["an array", { get: { pgsql: ["172.20.3.12"], username: "x" } }],
    ["a driver the guard's list lacks (caught in credentials())", { get: { newdb: "127.0.0.1:7800", username: "x" } }],
  ])("refuses %s before Adminer connects", async (_what, c) => {
    const r = await run(c);
    expect(r.status).toBe(403);
    expect(r.out).not.toMatch(/CONNECT|LOGIN/);
  });

  it("logs in with a one-time link, ignoring anything else in its query", async () => {
    const file = path.join(work, "home", "state", "adminer", `${TOKEN}.json`);
    const expires = Math.floor(Date.now() / 1000) + 60;
    fs.writeFileSync(file, JSON.stringify({ driver: "pgsql", server: "172.20.5.12", username: "moodle", password: "pw", db: "moodle", expires }));
    fs.chmodSync(file, 0o666);
    expect(await run({ get: { mdind_token: TOKEN, pgsql: "127.0.0.1:7800" } })).toEqual({ out: "LOGIN pgsql 172.20.5.12", status: 200 });
    expect(fs.existsSync(file)).toBe(false);
    expect((await run({ get: { mdind_token: TOKEN } })).status).toBe(410);
  });
});
