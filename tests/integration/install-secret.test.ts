import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execIn } from "../../lib/exec";
import { installSite } from "../../instances/install";
import { containerName } from "../../instances/stack";
import { readSecrets } from "../../instances/store";
import { cli, ROOT, tempHome } from "../helpers/cli";

/**
 * Moodle's installer takes the admin password as --adminpass, and argv is readable by every process
 * in the app container for the whole install. The install must hand it over another way. A spy in
 * place of the fixture's installer records what it was given and every process's /proc/<pid>/cmdline
 * while it runs; then the real fixture installer runs through the same path.
 */
const home = tempHome("mdind-install-secret-");
const NAME = `instsec-${process.pid.toString(36).slice(-4)}`;
const saved = process.env.MDIND_HOME;

const SPY = `<?php
define('CLI_SCRIPT', true);
require_once(__DIR__ . '/../../lib/clilib.php');
$opts = fixture_cli_get_params(['agree-license', 'fullname:', 'shortname:', 'summary:', 'adminuser:', 'adminpass:', 'adminemail:', 'lang:']);
$cmdlines = [];
foreach (glob('/proc/[0-9]*/cmdline') as $f) {
    $c = @file_get_contents($f);
    if ($c !== false && $c !== '') $cmdlines[] = str_replace("\\0", ' ', $c);
}
file_put_contents('/var/www/moodledata/install-spy.json', json_encode(['opts' => $opts, 'cmdlines' => $cmdlines]));
echo "Installation completed successfully.\\n";
`;

const CHECK = `define('CLI_SCRIPT', true);
require '/var/www/moodle/config.php';
$h = $DB->query("SELECT value FROM mdl_fixture_site WHERE name = 'adminpasshash'")->fetchColumn();
echo password_verify(stream_get_contents(STDIN), (string) $h) ? 'verified' : 'mismatch';`;

/** Put `content` at `file` as a new inode: code trees are hard links into a shared source. */
function replaceFile(file: string, content: string): void {
  const tmp = `${file}.spy-tmp`;
  fs.writeFileSync(tmp, content, { mode: 0o644 });
  fs.renameSync(tmp, file);
}

describe("install without the admin password in argv", () => {
  let code = "";
  beforeAll(async () => {
    const r = await cli(["create", NAME, "--moodle", "fixture", "--no-install", "--no-template", "--json"], { MDIND_HOME: home });
    if (r.code !== 0) throw new Error(`create failed: ${r.stderr}`);
    process.env.MDIND_HOME = home;
    code = path.join(home, "instances", NAME, "data", "code");
  });
  afterAll(async () => {
    process.env.MDIND_HOME = saved;
    await cli(["remove", NAME, "--yes"], { MDIND_HOME: home });
    fs.rmSync(home, { recursive: true, force: true });
  });

  it("no process in the app container has the password in its cmdline, and the installer still gets it", async () => {
    const { adminPassword } = await readSecrets(NAME);
    expect(adminPassword.length).toBeGreaterThan(8);
    const installer = path.join(code, "admin", "cli", "install_database.php");
    replaceFile(installer, SPY);
    const lines: string[] = [];
    await installSite(NAME, (l) => lines.push(l));
    const spy = JSON.parse(fs.readFileSync(path.join(home, "instances", NAME, "data", "moodledata", "install-spy.json"), "utf8")) as {
      opts: Record<string, string | false>; cmdlines: string[];
    };
    expect(spy.opts.adminpass).toBe(adminPassword);
    expect(spy.opts["agree-license"]).toBe(false);
    expect(spy.opts.shortname).toBe(NAME);
    // The scan saw the installer's own process (its other options are in argv), and no password anywhere.
    expect(spy.cmdlines.some((c) => c.includes("--agree-license"))).toBe(true);
    for (const c of spy.cmdlines) expect(c).not.toContain(adminPassword);
    expect(lines.join("\n")).not.toContain(adminPassword);

    // The fixture's real installer, through the same path: the stored hash is of the right password.
    replaceFile(installer, fs.readFileSync(path.join(ROOT, "tests", "fixture-app", "admin", "cli", "install_database.php"), "utf8"));
    await installSite(NAME, () => undefined);
    const check = await execIn(containerName(NAME, "app"), ["php", "-r", CHECK], { user: "www-data", workdir: "/var/www/moodle", stdin: adminPassword });
    expect(check.stdout.trim()).toBe("verified");
  });
});
