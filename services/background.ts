import fs from "node:fs/promises";
import { ping } from "../lib/docker";
import { paths } from "../lib/config";
import { readRegistry } from "../lib/allocation";
import { reconcile } from "./reconcile";
import { startStatusWatcher } from "./events";
import { startMetrics } from "./metrics";
import { keepSparesReady } from "../instances/spares";
import { startMailCatcher } from "../lib/mail/server";

/**
 * What the dashboard process runs beside HTTP: an engine check, crash recovery (reconcile), the
 * docker-events status watcher and the mail catcher. Each piece failing is logged, never fatal:
 * the UI still comes up and says what is wrong.
 */
export type Logger = (event: string, fields?: Record<string, unknown>) => void;

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/**
 * Reconcile on start, but never let a fresh data folder wipe an engine it does not know: a home
 * with no instances facing managed containers is another MDIND_HOME sharing this engine (tests,
 * a second checkout), not a crash to clean up. MDIND_RECONCILE_ON_START=report|off narrows it more.
 */
async function startupReconcile(log: Logger): Promise<void> {
  const mode = process.env.MDIND_RECONCILE_ON_START ?? "apply";
  if (mode === "off") return;
  const dry = await reconcile({ dryRun: true });
  if (dry.consistent) {
    log("reconcile", { ...dry });
    return;
  }
  const registry = await readRegistry();
  const folders = await fs.readdir(paths.instances()).catch(() => [] as string[]);
  const knowsNothing = Object.keys(registry.instances).length === 0 && folders.length === 0;
  if (mode !== "apply" || knowsNothing) {
    log("reconcile_report_only", {
      ...dry,
      why: knowsNothing
        ? "this data folder has no instances but the engine has managed ones: another MDIND_HOME on the same engine? Run `moodle-dind reconcile` to clean up on purpose."
        : `MDIND_RECONCILE_ON_START=${mode}`,
    });
    return;
  }
  log("reconcile", { ...(await reconcile()) });
}

export async function startBackground(log: Logger): Promise<void> {
  let engineUp = false;
  try {
    await ping();
    engineUp = true;
    log("engine_ok");
  } catch (e) {
    log("engine_unavailable", { error: errText(e) });
  }
  if (engineUp) {
    try {
      await startupReconcile(log);
    } catch (e) {
      log("reconcile_failed", { error: errText(e) });
    }
  }
  if (engineUp && process.env.MDIND_IN_HOST === "1") {
    // DinD host only: pre-create networks and preload shared-images/*.tar (lib/host/startup.ts).
    try {
      await (await import("../lib/host/startup")).hostStartup(log);
    } catch (e) {
      log("host_startup_failed", { error: errText(e) });
    }
  }
  void import("./terminal/sweep").then((m) => m.sweepOrphans(log), (e: unknown) => log("terminal_sweep_failed", { error: errText(e) })); // sessions a killed dashboard left
  // A cluster started here gets its instances snapshotted on a timer (a no-op without one).
  void import("./cluster/schedule").then((m) => m.startSnapshotSchedule(log), (e: unknown) => log("cluster_snapshot_schedule_failed", { error: errText(e) }));
  // This process lives on after a create: it makes the next create's code tree ahead of time.
  keepSparesReady();
  // Metrics count operations from the start, not from the first scrape.
  startMetrics();
  try {
    startStatusWatcher(log);
  } catch (e) {
    log("status_watcher_failed", { error: errText(e) });
  }
  try {
    // A port in use (another dashboard, the host's own catcher) is a log line, not a failed start.
    await startMailCatcher();
    log("mail_catcher_started");
  } catch (e) {
    log("mail_catcher_unavailable", { error: errText(e) });
  }
}
