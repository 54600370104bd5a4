import fs from "node:fs/promises";
import { AppError, isAppError, type ErrorKind } from "../../lib/errors";
import { ensureImages } from "../../lib/images/build";
import { validateName } from "../../lib/names";
import { runOperation, type Operation } from "../../lib/operations";
import { zodFail } from "../spec";
import { cloneInstance } from "../archive";
import { startServices } from "../lifecycle";
import { preparePhpConfig, replacePhpContainers } from "../php";
import { waitReady } from "../ready";
import { wakeCron } from "../cron";
import { restoreSnapshotIn } from "../snapshots";
import { dataDir, readRecord, type InstanceRecord } from "../store";
import { planUpgrade, upgradeInputSchema, type UpgradeInput, type UpgradePlan } from "./plan";
import { writeSnapshot } from "./snapshot";
import { asideDir, loginAnswers, moodleCli, moodleSaid, swapCode } from "./steps";

/**
 * Rehearse a Moodle upgrade on an instance (or on a clone of it): everything is checked first
 * (plan.ts), then one operation: snapshot, maintenance on, PHP when the target needs another,
 * the code swap, Moodle's own upgrade.php, purge caches, maintenance off, the login page. Any
 * failure after the snapshot restores it, so the site is back on its old build, data and record.
 */
export function parseUpgradeInput(raw: unknown): UpgradeInput {
  const r = upgradeInputSchema.safeParse(raw);
  if (!r.success) throw zodFail(r.error);
  return r.data;
}

export async function upgradeInstance(name: string, raw: unknown, hooks: { onOperation?: (o: Operation) => void } = {}): Promise<InstanceRecord> {
  validateName(name);
  const req = parseUpgradeInput(raw);
  // The source's checks first: a refused upgrade costs nothing, not even a clone.
  await planUpgrade(name, req.to);
  if (req.clone) await cloneInstance(name, req.clone);
  const target = req.clone ?? name;
  return runOperation(target, "upgrade", async (op) => {
    hooks.onOperation?.(op);
    const log = (l: string) => op.log(l);
    const plan = await op.step("check", async () => {
      const p = await planUpgrade(target, req.to);
      explain(p, log);
      return p;
    });
    const snap = await op.step("snapshot", () => writeSnapshot(target, "pre-upgrade"));
    log(`snapshot ${snap.id} (${(snap.bytes / 1024 ** 2).toFixed(1)} MiB): moodle-dind snapshot restore ${target} ${snap.id} brings this state back`);
    try {
      await fs.rm(asideDir(target), { recursive: true, force: true });
      await op.step("maintenance", () => moodleCli(target, "maintenance.php", ["--enable"], log));
      if (plan.spec.php !== plan.rec.spec.php) await op.step("php", () => switchPhp(plan, log));
      await op.step("code", () => swapCode(plan, log));
      await op.step("upgrade", () => moodleCli(target, "upgrade.php", ["--non-interactive", ...(plan.allowUnstable ? ["--allow-unstable"] : [])], log));
      await op.step("caches", () => moodleCli(target, "purge_caches.php", [], log));
      await op.step("maintenance-off", () => moodleCli(target, "maintenance.php", ["--disable"], log));
      await op.step("ready", async () => {
        // Cron last, as after a create: a run during the upgrade would meet a half-upgraded site.
        // The upgrade queued ad-hoc tasks (theme builds and more): the wake mark runs them within
        // a minute instead of at the idle site's next run.
        await wakeCron(target);
        await startServices(target, ["cron"]);
        await waitReady(target, plan.spec, plan.rec.port, ["app", "web"], log);
        await loginAnswers(plan.rec.port, log);
      });
    } catch (e) {
      throw await rollBack(op, plan, snap.id, e);
    }
    await fs.rm(asideDir(target), { recursive: true, force: true });
    return readRecord(target);
  });
}

function explain(p: UpgradePlan, log: (l: string) => void): void {
  log(`${p.rec.source.release} → ${p.build.release} (build ${p.build.id})`);
  log(p.spec.php === p.rec.spec.php ? `PHP ${p.spec.php} kept` : `PHP ${p.rec.spec.php} → ${p.spec.php} (config/php-${p.rec.spec.php} is kept beside the new one)`);
  if (p.build.publicDir !== p.rec.source.publicDir) log(`web root moves to ${p.build.publicDir ? "public/" : "the code root"}`);
  if (!p.pluginsChecked) log("no lib/components.json in the builds: added plugins are not looked for");
  for (const c of p.carry) {
    const subs = c.subplugins.length ? ` with its subplugins ${c.subplugins.join(", ")}` : "";
    log(`added plugin ${c.component}${subs} supports the target: carried over`);
  }
  for (const s of p.shipped) log(`added plugin ${s} ships with the target: its copy is used`);
  if (p.allowUnstable) log(`${p.build.release} is not marked stable: upgrade.php runs with --allow-unstable`);
}

/** The PHP the target needs: image, its config folder (the old one stays), app and cron on it. */
async function switchPhp(plan: UpgradePlan, log: (l: string) => void): Promise<void> {
  const { rec, spec } = plan;
  await ensureImages([{ kind: "php", version: spec.php }], log);
  await preparePhpConfig(rec, spec, plan.build.publicDir);
  await replacePhpContainers(rec, spec);
  await startServices(rec.name, ["app"]);
  await waitReady(rec.name, spec, rec.port, ["app", "web"], log);
}

/**
 * Put the snapshot back and say what happened on one line: which step failed with Moodle's own
 * last words, and that the site is on its old build again (or, if even that failed, how to
 * restore by hand).
 */
async function rollBack(op: Operation, plan: UpgradePlan, snapId: string, e: unknown): Promise<AppError> {
  const name = plan.rec.name;
  const step = (isAppError(e) && e.step) || "upgrade";
  const kind: ErrorKind = isAppError(e) ? e.kind : "internal";
  const cause = moodleSaid(e);
  try {
    // Before the swap the code is untouched: set it aside so the restore keeps its links to the build.
    if (!(await fs.stat(asideDir(name)).then(() => true, () => false))) await fs.rename(dataDir(name, "code"), asideDir(name));
    await op.step("rollback", () => restoreSnapshotIn(op, name, snapId, { code: asideDir(name) }));
    return new AppError(kind, `rolled back: ${name} is on ${plan.rec.source.release} again (snapshot ${snapId} restored); ${cause}`, { step, cause: e });
  } catch (re) {
    return new AppError(kind, `${cause}; the rollback failed too (${(re as Error).message.split("\n")[0]}): restore by hand with moodle-dind snapshot restore ${name} ${snapId}`, { step, cause: e });
  }
}
