import fs from "node:fs/promises";
import path from "node:path";
import { appRoot } from "./source";
import { execIn } from "../lib/exec";
import { containerName } from "./stack";
import { readRecord, readSecrets, updateRecord } from "./store";

/**
 * The PHP that runs the installer with the password from stdin (instances/php/mdind_install.php),
 * for `php -r`: without its opening tag and its comment lines, which would only fill `ps`.
 */
async function installWrapper(): Promise<string> {
  const src = await fs.readFile(path.join(appRoot(), "instances", "php", "mdind_install.php"), "utf8");
  return src.replace(/^<\?php\s*/, "").split("\n").filter((l) => !l.trim().startsWith("//")).join("\n");
}

/**
 * Install the site through Moodle's own CLI, non-interactively, as www-data in the app container.
 * config.php is already written, so install_database.php is the right entry point. Moodle's CLI
 * takes the admin password only in argv, which any process in the container can read while the
 * install runs; so a small wrapper (`php -r`, nothing written into the container's folders) gets
 * it on stdin and hands it to the installer in memory.
 */
export async function installSite(name: string, log: (line: string) => void): Promise<void> {
  const rec = await readRecord(name);
  const secrets = await readSecrets(name);
  const started = Date.now();
  const args = [
    "php",
    "-r",
    await installWrapper(),
    "--",
    "/var/www/moodle",
    "--agree-license",
    `--fullname=${rec.spec.siteName}`,
    `--shortname=${rec.name}`,
    `--summary=${rec.spec.siteName}`,
    `--adminuser=${secrets.adminUser}`,
    `--adminemail=${rec.spec.adminEmail}`,
  ];
  let buffered = "";
  await execIn(containerName(name, "app"), args, {
    user: "www-data",
    workdir: "/var/www/moodle",
    stdin: JSON.stringify({ adminpass: secrets.adminPassword }),
    what: "admin/cli/install_database.php",
    onOutput: (chunk) => {
      buffered += chunk;
      const lines = buffered.split("\n");
      buffered = lines.pop() ?? "";
      for (const l of lines) if (l.trim()) log(l.trimEnd());
    },
  });
  if (buffered.trim()) log(buffered.trim());
  // The installer runs with Moodle's caches disabled, so its own config writes never invalidate
  // them; a page opened meanwhile can have cached a half-written config (cron_enabled missing
  // means "Cron is disabled" for good). Start the site, and any template made from it, clean.
  await execIn(containerName(name, "app"), ["php", "admin/cli/purge_caches.php"], {
    user: "www-data", workdir: "/var/www/moodle", what: "admin/cli/purge_caches.php",
  });
  await updateRecord(name, { install: { at: new Date().toISOString(), durationMs: Date.now() - started, fromTemplate: false } });
  log(`installed in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
