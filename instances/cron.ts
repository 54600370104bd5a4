import path from "node:path";
import { openDirInside, openFileIn } from "../lib/nofollow";
import { readJson } from "../lib/lock";
import { dataDir, logsDir } from "./store";

/**
 * An instance's cron cadence. The cron container (dind/images/php/mdind-php) runs Moodle's cron
 * every minute while the site is in use and once every `idle_minutes` while nobody uses it: on an
 * idle real Moodle 5.1 site, cron and its queries are most of the idle CPU (docs/performance.md).
 * "In use" means a signed-in user's Moodle session written, or the wake mark below touched, within
 * that window; anonymous visits (a login page opened, a link checker) leave an idle site idle.
 * The setting lives in config/php-X/cron.conf, read by the loop at every tick (no restart).
 */
// 30: at 10, 100 idle real 5.1 sites still spent 0.73 % of a core each, most of it in cron runs
// (docs/performance.md); a signed-in user keeps their site on per-minute cron for 30 minutes.
export const CRON_IDLE_DEFAULT = 30;
export const CRON_IDLE_MAX = 1440;
export const CRON_CONF = "cron.conf";
/** In moodledata, which the cron container reads; written by the dashboard when someone works on the site. */
const WAKE = ".mdind-cron-wake";

export function cronConf(name: string, idleMinutes = CRON_IDLE_DEFAULT): string {
  return `# moodle-dind cron for ${name}. Read by the cron container every minute: edits apply without a restart.
#
# Cron runs every minute while the site is in use: a signed-in user loaded a page, or someone
# worked on it from the dashboard (terminal, blueprint, login link), in the last idle_minutes.
# While nobody does, it runs once every idle_minutes, which saves most of an idle site's CPU;
# anonymous visits do not count. 0 = every minute, always. At most ${CRON_IDLE_MAX}.
idle_minutes = ${idleMinutes}
`;
}

/** Checks an edited cron.conf: only comments, blank lines and idle_minutes = 0…1440. */
export function checkCronConf(text: string): { ok: boolean; output: string } {
  const errors: string[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    const t = line.trim();
    if (t === "" || t.startsWith("#")) return;
    const m = /^idle_minutes\s*=\s*(\d{1,4})$/.exec(t);
    if (!m) errors.push(`line ${i + 1}: expected "idle_minutes = <minutes>" or a # comment, got ${JSON.stringify(t.slice(0, 80))}`);
    else if (Number(m[1]) > CRON_IDLE_MAX) errors.push(`line ${i + 1}: idle_minutes is at most ${CRON_IDLE_MAX}`);
  });
  return errors.length ? { ok: false, output: errors.join("\n") } : { ok: true, output: "cron.conf parser passed" };
}

/**
 * Someone is working on the site: its cron goes back to every minute at the next tick. Best effort
 * (false when the mark could not be set; the site then keeps its cadence until a page is served).
 * moodledata is writable by the instance's containers, so the mark is opened without following links.
 */
export async function wakeCron(name: string): Promise<boolean> {
  try {
    const dir = await openDirInside(dataDir(name, "moodledata"), "");
    try {
      const fh = await openFileIn(dir, WAKE, "r").catch(async (e: NodeJS.ErrnoException) => {
        if (e.code === "ENOENT") return openFileIn(dir, WAKE, "wx");
        throw e;
      });
      const now = new Date();
      await fh.utimes(now, now).finally(() => fh.close());
    } finally {
      await dir.close();
    }
    return true;
  } catch {
    return false;
  }
}

export interface CronState {
  /** The last run the cron loop recorded. */
  last: { start: string; durationMs: number; exitCode: number; skipped: boolean } | null;
  /** What the loop decided at its last tick: every minute, or idle (every idleMinutes). */
  cadence: { cadence: "minute" | "idle"; idleMinutes: number; since: string } | null;
}

export async function cronState(name: string, php: string): Promise<CronState> {
  const dir = logsDir(name, "cron", php);
  const [last, cadence] = await Promise.all([
    readJson(path.join(dir, "last-run.json"), null).catch(() => null),
    readJson(path.join(dir, "cadence.json"), null).catch(() => null),
  ]);
  return { last, cadence } as CronState;
}
