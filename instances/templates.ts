import fs from "node:fs/promises";
import fss from "node:fs";
import path from "node:path";
import { createHash } from "node:crypto";
import { paths } from "../lib/config";
import { docker } from "../lib/docker";
import { engineError } from "../lib/errors";
import { LockBusyError, lockBusyHere, withFileLock, writeFileAtomic } from "../lib/lock";
import { openDirInside, openFileIn, removeIn } from "../lib/nofollow";
import { run } from "../lib/proc";
import { execIn } from "../lib/exec";
import { containerName } from "./stack";
import { dataDir, readRecord, readSecrets, type InstanceRecord } from "./store";
import { httpStatusOf, waitReady } from "./ready";
import { appRoot } from "./source";

/**
 * Pristine templates: the first install of a (Moodle build, DB engine + version) leaves a copy of
 * its stopped database directory and its moodledata. Later instances of the same combination copy
 * those instead of installing (seconds instead of ~45 s), then get their own secrets and site name.
 * The key includes Moodle's $version, so a new source build makes a new template by itself.
 */

export function templateKey(rec: Pick<InstanceRecord, "source" | "spec">, version: string): string {
  const src = createHash("sha256").update(`${rec.source.origin}\0${rec.source.release}\0${version}`).digest("hex").slice(0, 10);
  return `${rec.source.branch}-${src}-${rec.spec.db.engine}-${rec.spec.db.version}`.replace(/[^a-z0-9.-]/gi, "_");
}

export const templateDir = (key: string) => path.join(paths.cache(), "templates", key);

export function hasTemplate(key: string): boolean {
  return fss.existsSync(path.join(templateDir(key), ".complete"));
}

async function copyTree(src: string, dest: string, skipTop: readonly string[] = []): Promise<void> {
  await fs.mkdir(dest, { recursive: true });
  const entries = await fs.readdir(src);
  const keep = entries.filter((e) => !skipTop.includes(e));
  if (keep.length === 0) return;
  await run("cp", ["-a", "--reflink=auto", ...keep.map((e) => path.join(src, e)), `${dest}/`]);
}

/**
 * A template keeps Moodle's caches (MUC and localcache): its children keep the site identifier and
 * run the same code at the same path, so the caches stay valid, and their first page is served
 * warm instead of rebuilding everything (~2 s). What embeds the old wwwroot is purged by personalize.
 */
const TEMPLATE_SKIP = ["sessions", "temp", "lock", "trashdir"];

/** The page whose first request builds the caches a login page needs. */
const WARM_PATH = "/login/index.php";

/**
 * Moodle's install queues ad-hoc tasks; in 5.x build_installed_themes_task compiles every theme's
 * CSS (about 20 s of CPU on a quiet machine, minutes on a busy one). Run before the snapshot, they
 * are done once for every child of the template instead of once in each child's first cron: at 100
 * children that was 100 such runs at once (measured: 343 s for that one task, load 60). Cron is not
 * running yet (it starts after the template), so nothing else claims them. Best effort: a failure
 * only leaves them queued for the children's cron, as before.
 */
async function runQueuedAdhocTasks(name: string, log: (l: string) => void): Promise<void> {
  if (!fss.existsSync(path.join(dataDir(name, "code"), "admin", "cli", "adhoc_task.php"))) return;
  const t0 = Date.now();
  try {
    await execIn(containerName(name, "app"), ["php", "admin/cli/adhoc_task.php", "--execute"], {
      user: "www-data", workdir: "/var/www/moodle", what: "admin/cli/adhoc_task.php --execute", timeoutMs: 900_000,
    });
    log(`queued ad-hoc tasks run once for the template in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  } catch (e) {
    log(`queued ad-hoc tasks not run (${(e as Error).message.split("\n")[0]}); each child's cron will run them`);
  }
}

/**
 * The source's sessions folder, empty: a child nobody has visited yet then reads as idle to its
 * cron loop (no recent session file), not as a site keeping sessions elsewhere (instances/cron.ts).
 */
async function keepEmptySessions(name: string, destData: string): Promise<void> {
  const st = await fs.lstat(path.join(dataDir(name, "moodledata"), "sessions")).catch(() => null);
  if (!st?.isDirectory()) return;
  const dest = path.join(destData, "sessions");
  await fs.mkdir(dest);
  await fs.chown(dest, st.uid, st.gid);
  await fs.chmod(dest, st.mode & 0o7777);
}

/** The longest a create waits for another create's install to leave the template it needs. */
const BUILD_WAIT_MS = 20 * 60_000;

/**
 * Runs `install` (a fresh install that will leave the template `key`) while no other create is
 * making that same template, in this process or another (CLI beside the dashboard). Several creates
 * of a build with no template yet would otherwise each run a full install at once (2+ minutes each
 * on 2 cores, contending); the later ones wait and then use the template. `install` re-checks
 * hasTemplate itself: it returns false when the template appeared meanwhile.
 */
export async function whileMakingTemplate(key: string, log: (l: string) => void, install: () => Promise<boolean>): Promise<boolean> {
  const lock = path.join(paths.cache(), "templates", `${key}.build.lock`);
  const deadline = Date.now() + BUILD_WAIT_MS;
  let told = false;
  const tell = () => {
    if (!told) log("another create is installing this Moodle build: waiting for its template instead of installing it a second time");
    told = true;
  };
  for (;;) {
    let entered = false;
    // A create in this process queues on the lock's in-process chain without a LockBusyError: say so too.
    if (lockBusyHere(lock)) tell();
    try {
      // Held for a whole install (minutes, on a loaded machine): a late mtime refresh must not let
      // a second create take it as stale.
      return await withFileLock(lock, () => ((entered = true), install()), { wait: false, stale: 120_000 });
    } catch (e) {
      // Only "someone else holds it" means wait; any error from the install itself is the create's.
      if (entered || !(e instanceof LockBusyError) || Date.now() > deadline) throw e;
      tell();
      await new Promise((r) => setTimeout(r, 2000));
    }
  }
}

/** Snapshot a freshly installed instance as the template for its combination (once). */
export async function makeTemplate(name: string, key: string, log: (l: string) => void): Promise<void> {
  await withFileLock(path.join(paths.cache(), "templates", `${key}.lock`), async () => {
    if (hasTemplate(key)) return;
    const rec = await readRecord(name);
    const dir = templateDir(key);
    const tmp = `${dir}.partial`;
    await fs.rm(tmp, { recursive: true, force: true });
    await runQueuedAdhocTasks(name, log);
    const warm = Date.now();
    const code = await httpStatusOf(rec.port, WARM_PATH, 120_000).catch(() => 0);
    log(`caches warmed by ${WARM_PATH} (${code || "no answer"}) in ${Date.now() - warm} ms`);
    const db = docker().getContainer(containerName(name, "db"));
    const started = Date.now();
    // A stopped server's files are a consistent copy; the stop takes well under a second.
    await db.stop({ t: 20 }).catch((e) => {
      if ((e as { statusCode?: number }).statusCode !== 304) throw engineError("stopping the db for the template", e);
    });
    try {
      await copyTree(dataDir(name, "db"), path.join(tmp, "db"));
    } finally {
      await db.start().catch((e) => {
        if ((e as { statusCode?: number }).statusCode !== 304) throw engineError("restarting the db", e);
      });
    }
    await copyTree(dataDir(name, "moodledata"), path.join(tmp, "moodledata"), TEMPLATE_SKIP);
    await keepEmptySessions(name, path.join(tmp, "moodledata"));
    await writeFileAtomic(path.join(tmp, "meta.json"), JSON.stringify({ key, from: name, createdAt: new Date().toISOString(), release: rec.source.release }, null, 2));
    await fs.writeFile(path.join(tmp, ".complete"), "");
    await fs.rm(dir, { recursive: true, force: true });
    await fs.rename(tmp, dir);
    await waitReady(name, rec.spec, rec.port, ["db"], log);
    log(`template ${key} saved in ${Date.now() - started} ms`);
  });
}

/** Lay a template's database directory into a new instance (before its db container starts). */
export async function restoreTemplateDb(name: string, key: string): Promise<void> {
  await copyTree(path.join(templateDir(key), "db"), dataDir(name, "db"));
}

/** Lay a template's moodledata, warm caches included, into a new instance. */
export async function restoreTemplateData(name: string, key: string): Promise<void> {
  await copyTree(path.join(templateDir(key), "moodledata"), dataDir(name, "moodledata"));
}

/**
 * Make a restored site this instance's own: its admin password and site name, and for clones a new
 * site identifier with all caches purged. A template's child keeps the identifier and its warm
 * caches (`keepCaches`); only what embeds the old wwwroot is purged. The DB password is set apart
 * (setAppPassword), as soon as the database answers. Values go to PHP on stdin; the script is ours
 * (or the fixture's stand-in).
 */
export async function personalize(name: string, log: (l: string) => void, opts: { keepCaches?: boolean } = {}): Promise<void> {
  const rec = await readRecord(name);
  const secrets = await readSecrets(name);
  const code = dataDir(name, "code");
  const fixtureScript = path.join(code, "admin", "cli", "mdind_site_reset.php");
  let script = "/var/www/moodle/admin/cli/mdind_site_reset.php";
  if (!fss.existsSync(fixtureScript)) {
    // moodledata is the container's to write: .mdind and the script are reached without following
    // a link it may have planted there (lib/nofollow), and whatever stands at the name is replaced.
    const dest = await openDirInside(dataDir(name, "moodledata"), ".mdind", { create: true });
    try {
      await fs.chown(dest.path, 33, 33);
      await removeIn(dest, "mdind_site_reset.php");
      const fh = await openFileIn(dest, "mdind_site_reset.php", "wx", 0o644);
      try {
        await fh.writeFile(await fs.readFile(path.join(appRoot(), "instances", "php", "mdind_site_reset.php")));
        await fh.chown(33, 33);
      } finally {
        await fh.close();
      }
    } finally {
      await dest.close();
    }
    script = "/var/www/moodledata/.mdind/mdind_site_reset.php";
  }
  const input = JSON.stringify({
    fullname: rec.spec.siteName,
    shortname: rec.name,
    adminuser: secrets.adminUser,
    adminpass: secrets.adminPassword,
    adminemail: rec.spec.adminEmail,
    newsite: !opts.keepCaches,
    keepcaches: Boolean(opts.keepCaches),
  });
  const r = await execIn(containerName(name, "app"), ["php", script, "/var/www/moodle"], {
    user: "www-data", workdir: "/var/www/moodle", stdin: input, what: "site reset",
  });
  log(r.stdout.trim().split("\n").pop() ?? "site reset");
}
