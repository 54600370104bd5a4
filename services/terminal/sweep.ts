import fs from "node:fs";
import path from "node:path";
import { execOn } from "../../lib/cluster/engine-io";
import type { Engine } from "../../lib/cluster/swarm";
import { withDeadline } from "../../lib/deadline";
import { listManagedContainers } from "../../lib/docker";
import { execIn } from "../../lib/exec";
import { CGROUP_NAME_RE, cgroupDir, cgroupOf, killCgroup, ownCgroupDir } from "./cgroup";
import { containmentReport } from "./containment";
import { LIST_LAUNCHERS_SCRIPT, parseLauncherList } from "./launcher";
import { OWNER_ENV, ownerState } from "./owner";
import { MARKER_ENV, MARKER_RE, reapContainer, reapHost } from "./reaper";

/**
 * The start-up sweep. A dashboard that is SIGKILLed (or crashes, or loses its machine's power
 * mid-way) never runs endAllSessions, and the engine keeps exec'd shells running without a client
 * (moby #9098); host shells lose their terminal but their nohup'd and setsid'd children live on.
 * So a starting dashboard ends every terminal session whose owning dashboard is gone (owner.ts):
 * session cgroups on this machine, marked host processes, and the launchers in this data dir's
 * running containers and in its cluster instances' task containers on other nodes. Sessions of a live dashboard, of another data dir or of a dashboard it cannot
 * judge are left alone. Never throws: a sweep that fails is a log line.
 */
export type SweepLogger = (event: string, fields?: Record<string, unknown>) => void;

export interface SweepOptions {
  /**
   * Containers to look in; default: this data dir's running containers, and the task containers
   * of a cluster started from it on every node.
   */
  containers?: string[];
}

export interface SweepReport {
  cgroups: number;
  hostSessions: number;
  containerSessions: number;
  errors: string[];
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

function pids(): number[] {
  try {
    return fs.readdirSync("/proc").filter((e) => /^[0-9]+$/.test(e)).map(Number);
  } catch {
    return [];
  }
}

/** Session cgroups whose owner is gone: where any process sits, plus empty ones under our own cgroup. */
function orphanCgroups(): string[] {
  const dirs = new Set<string>();
  for (const pid of pids()) {
    const p = cgroupOf(pid);
    const dir = p && CGROUP_NAME_RE.test(path.posix.basename(p)) ? cgroupDir(p) : null;
    if (dir) dirs.add(path.resolve(dir));
  }
  const own = ownCgroupDir();
  if (own) {
    let names: string[] = [];
    try {
      names = fs.readdirSync(own);
    } catch {
      // unreadable: only the ones found through processes then
    }
    for (const n of names) if (CGROUP_NAME_RE.test(n)) dirs.add(path.resolve(own, n));
  }
  return [...dirs].filter((d) => ownerState(CGROUP_NAME_RE.exec(path.basename(d))![1]) === "gone");
}

/** Markers of host sessions whose owner is gone, from the environments we can read. */
function orphanHostMarkers(): string[] {
  const markers = new Set<string>();
  for (const pid of pids()) {
    let env: string[];
    try {
      env = fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0");
    } catch {
      continue;
    }
    const marker = env.find((v) => v.startsWith(`${MARKER_ENV}=`))?.slice(MARKER_ENV.length + 1);
    const owner = env.find((v) => v.startsWith(`${OWNER_ENV}=`))?.slice(OWNER_ENV.length + 1);
    if (marker && owner && MARKER_RE.test(marker) && ownerState(owner) === "gone") markers.add(marker);
  }
  return [...markers];
}

/** `engine`: a cluster node's engine, for an instance's task container there; this host's otherwise. */
async function sweepContainer(name: string, report: SweepReport, engine?: Engine): Promise<void> {
  // Root reads every launcher's cmdline; no perl in the image means no launchers in it either.
  const argv = ["perl", "-e", LIST_LAUNCHERS_SCRIPT];
  const opts = { user: "0", check: false, what: "terminal sweep" };
  const listed = engine
    ? await withDeadline(15_000, () => execOn(engine, name, argv, opts)).then((r) => ({ exitCode: r.exitCode, stdout: r.stdout.toString() }))
    : await execIn(name, argv, { ...opts, timeoutMs: 15_000 });
  if (listed.exitCode !== 0) return;
  const orphans = parseLauncherList(listed.stdout).filter((l) => ownerState(l.owner) === "gone");
  for (const l of orphans) {
    // As the session's own user, like any session end (reaper.ts says why).
    const r = await reapContainer(name, l.marker, String(l.uid), engine);
    if (r.ok) report.containerSessions++;
    else report.errors.push(`${name}: ${r.detail}`);
  }
}

export async function sweepOrphans(log?: SweepLogger, opts: SweepOptions = {}): Promise<SweepReport> {
  const report: SweepReport = { cgroups: 0, hostSessions: 0, containerSessions: 0, errors: [] };
  try {
    // Cgroups first: one write ends a session, escaped processes included.
    for (const dir of orphanCgroups()) {
      if (await killCgroup(dir)) report.cgroups++;
      else report.errors.push(`cgroup ${dir} did not empty`);
    }
    for (const marker of orphanHostMarkers()) {
      const r = await reapHost(marker, null);
      if (r.ok) report.hostSessions++;
      else report.errors.push(`host: ${r.detail}`);
    }
  } catch (e) {
    report.errors.push(`host: ${errText(e)}`);
  }
  const containers: { name: string; engine?: Engine }[] = (opts.containers ?? []).map((name) => ({ name }));
  if (!opts.containers) {
    try {
      const names = (await listManagedContainers({ running: true })).map((c) => (c.Names[0] ?? "").replace(/^\//, "")).filter(Boolean);
      containers.push(...names.map((name) => ({ name })));
    } catch (e) {
      report.errors.push(`containers: ${errText(e)}`);
    }
    // Instances of a cluster started here: their task containers on every node, over its engine.
    try {
      const { clusterTaskContainers } = await import("../cluster/terminal");
      for (const n of await clusterTaskContainers()) {
        if (n.error || !n.engine) report.errors.push(`node ${n.node}: ${n.error}`);
        else containers.push(...n.containers.map((name) => ({ name, engine: n.engine! })));
      }
    } catch (e) {
      report.errors.push(`cluster: ${errText(e)}`);
    }
  }
  // A few at a time: each look is one exec, and a data dir may hold a hundred instances.
  const queue = [...containers];
  const worker = async () => {
    for (let c = queue.shift(); c !== undefined; c = queue.shift()) {
      const { name, engine } = c;
      await sweepContainer(name, report, engine).catch((e: unknown) => report.errors.push(`${name}: ${errText(e)}`));
    }
  };
  await Promise.all(Array.from({ length: Math.min(8, queue.length) }, worker));
  log?.("terminal_sweep", { ...report, hostContainment: await containmentReport().catch(() => undefined) });
  return report;
}
