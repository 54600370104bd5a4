import fs from "node:fs/promises";
import fss from "node:fs";
import path from "node:path";
import { docker } from "../lib/docker";
import { engineError, ValidationError } from "../lib/errors";
import { runOperation } from "../lib/operations";
import { ensureImages } from "../lib/images/build";
import { branchInfo, PHP_VERSIONS, type InstanceSpec, type PhpVersion } from "./spec";
import { validateName } from "../lib/names";
import { fpmConf, phpIni } from "./render";
import { CRON_CONF, cronConf } from "./cron";
import { containerSpecs, containerName } from "./stack";
import { configDir, logsDir, readRecord, readSecrets, updateRecord, instanceDir, type InstanceRecord } from "./store";
import { renderContext, startServices } from "./lifecycle";
import { waitReady } from "./ready";

/**
 * Switch an instance's PHP within its Moodle branch's range. The new version gets its own
 * config/php-X folder (written once, from defaults); the old folder stays, so switching back
 * finds the user's edits where they left them. Only app and cron are recreated.
 */
export async function switchPhp(name: string, version: string) {
  validateName(name);
  if (!(PHP_VERSIONS as readonly string[]).includes(version)) throw new ValidationError(`php must be one of ${PHP_VERSIONS.join(", ")}`, "php");
  const rec = await readRecord(name);
  const allowed = branchInfo(rec.spec.moodle).php;
  if (!allowed.includes(version as PhpVersion)) {
    throw new ValidationError(`php: Moodle ${rec.spec.moodle} runs on PHP ${allowed.join(", ")}, not ${version}`, "php");
  }
  if (rec.spec.php === version) return rec;
  return runOperation(name, "php", async (op) => {
    const spec = { ...rec.spec, php: version as PhpVersion };
    await op.step("images", () => ensureImages([{ kind: "php", version }], (l) => op.log(l)));
    await op.step("config", () => preparePhpConfig(rec, spec, rec.source.publicDir));
    await op.step("containers", async () => {
      await replacePhpContainers(rec, spec);
      await startServices(name, ["app", "cron"]);
      await waitReady(name, spec, rec.port, ["app", "web"], (l) => op.log(l));
    });
    op.log(`config/php-${rec.spec.php} kept in ${path.relative(instanceDir(name), configDir(name, "php", rec.spec.php))}`);
    return updateRecord(name, { spec });
  });
}

/**
 * config/php-X for spec's PHP, written from defaults only when missing (a folder the user edited
 * before is kept as it is), and its log folders. Shared with the upgrade's PHP step.
 */
export async function preparePhpConfig(rec: InstanceRecord, spec: InstanceSpec, publicDir: boolean): Promise<void> {
  const name = rec.name;
  const dir = configDir(name, "php", spec.php);
  await fs.mkdir(dir, { recursive: true });
  const secrets = await readSecrets(name);
  const ctx = renderContext(spec, rec.n, rec.port, publicDir, secrets.dbPassword);
  if (!fss.existsSync(path.join(dir, "php.ini"))) await fs.writeFile(path.join(dir, "php.ini"), phpIni(ctx));
  if (!fss.existsSync(path.join(dir, "fpm.conf"))) await fs.writeFile(path.join(dir, "fpm.conf"), fpmConf(ctx));
  if (!fss.existsSync(path.join(dir, CRON_CONF))) await fs.writeFile(path.join(dir, CRON_CONF), cronConf(name));
  for (const l of [logsDir(name, "php", spec.php), logsDir(name, "cron", spec.php)]) {
    await fs.mkdir(l, { recursive: true });
    await fs.chmod(l, 0o1777);
  }
}

/** App and cron made again (not started) for spec's PHP: their image and mounts name the version. */
export async function replacePhpContainers(rec: Pick<InstanceRecord, "name" | "n" | "port">, spec: InstanceSpec): Promise<void> {
  const name = rec.name;
  const specs = containerSpecs({ spec, n: rec.n, port: rec.port });
  for (const s of ["cron", "app"] as const) {
    await docker().getContainer(containerName(name, s)).remove({ force: true }).catch((e) => {
      if ((e as { statusCode?: number }).statusCode !== 404) throw engineError(`removing ${containerName(name, s)}`, e);
    });
  }
  for (const s of ["app", "cron"] as const) {
    await docker().createContainer(specs[s]).catch((e) => {
      throw engineError(`creating ${containerName(name, s)}`, e);
    });
  }
}
