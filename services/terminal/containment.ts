import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { AppError } from "../../lib/errors";
import { CGROUP_PREFIX, killCgroup, probeCgroups } from "./cgroup";

/**
 * How a host terminal session is held together so that one kill ends all of it, including what
 * `env -i setsid …` started (it drops the marker and leaves the session, so the marker reaper alone
 * cannot see it):
 *
 * - "cgroup" (preferred): the session gets its own cgroup v2 under the dashboard's; a small launcher
 *   moves itself in before it execs the shell, so nothing the shell forks is ever outside it, and
 *   cgroup.kill ends everything. The shell sees the machine as before (ps, kill, mounts).
 * - "pidns": `unshare --pid --fork --kill-child` launches the shell as init of a new PID namespace;
 *   killing the launcher kills that init, and the kernel kills every process of the namespace
 *   with it. Needs CAP_SYS_ADMIN. The shell's `ps` still lists the machine's processes (same /proc)
 *   but its `kill` reaches only the namespace's own pids.
 * - "marker": neither is available; the marker reaper alone (an `env -i setsid` escapes).
 *
 * MDIND_TERMINAL_CONTAINMENT=auto (default: the first of those that works here), or one of them to
 * insist on it: a host shell is then refused where it is unavailable rather than weaker than asked.
 */
export type ContainmentKind = "cgroup" | "pidns" | "marker";

/** What starts the shell, and how to end the session for good. */
export interface Launch {
  kind: ContainmentKind;
  file: string;
  args: string[];
  /** Kills everything the session started (the marker reaper runs after it regardless). */
  kill(launcherPid: number): Promise<{ ok: boolean; detail: string }>;
}

/**
 * Moves its own pid into the session cgroup ("$1" is its cgroup.procs), then execs the shell: from
 * the shell's first instruction on, everything it forks is born inside. Fixed text.
 */
const CGROUP_LAUNCH =
  'echo "$$" > "$1" || { echo "moodle-dind: cannot enter this terminal\'s cgroup" >&2; exit 111; }; shift; exec "$@"';

const UNSHARE = ["/usr/bin/unshare", "/bin/unshare"];

let cgroupProbe: ReturnType<typeof probeCgroups> | null = null;
let pidnsProbe: { ok: boolean; why: string } | null = null;

function probePidns(): { ok: boolean; why: string } {
  if (pidnsProbe) return pidnsProbe;
  const bin = UNSHARE.find((p) => fs.existsSync(p));
  if (!bin) return (pidnsProbe = { ok: false, why: "unshare (util-linux) is not installed" });
  const r = spawnSync(bin, ["--pid", "--fork", "--kill-child", "--", "true"], { stdio: "ignore", timeout: 5000 });
  pidnsProbe = r.status === 0 ? { ok: true, why: bin } : { ok: false, why: "unshare --pid is not permitted (needs CAP_SYS_ADMIN)" };
  return pidnsProbe;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function statOf(pid: number): string | null {
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return null;
  }
}

/** The launcher's child: init of the session's PID namespace. */
function childOf(pid: number): number | null {
  for (const e of fs.readdirSync("/proc")) {
    if (!/^[0-9]+$/.test(e)) continue;
    const st = statOf(Number(e));
    if (st && Number(st.slice(st.lastIndexOf(")") + 2).split(" ")[1]) === pid) return Number(e);
  }
  return null;
}

function pidnsLaunch(bin: string, shell: string): Launch {
  return {
    kind: "pidns",
    file: bin,
    args: ["--pid", "--fork", "--kill-child", "--", shell, "-l"],
    kill: async (launcherPid) => {
      const init = childOf(launcherPid);
      try {
        process.kill(launcherPid, "SIGKILL");
      } catch {
        // already gone; its init went with it
      }
      // The namespace's init exits only after the kernel has killed every other process in it.
      for (let i = 0; init !== null && i < 100; i++) {
        const st = statOf(init);
        if (!st || st.slice(st.lastIndexOf(")") + 2).startsWith("Z")) return { ok: true, detail: "pid namespace ended" };
        await sleep(50);
      }
      return init === null ? { ok: true, detail: "pid namespace ended" } : { ok: false, detail: `pid namespace init ${init} still alive` };
    },
  };
}

async function cgroupLaunch(base: string, name: string, shell: string): Promise<Launch> {
  const dir = path.join(base, `${CGROUP_PREFIX}${name}`);
  fs.mkdirSync(dir);
  return {
    kind: "cgroup",
    file: "/bin/sh",
    args: ["-c", CGROUP_LAUNCH, "mdind-term", path.join(dir, "cgroup.procs"), shell, "-l"],
    kill: async () => ((await killCgroup(dir)) ? { ok: true, detail: "cgroup killed" } : { ok: false, detail: `cgroup ${dir} not empty` }),
  };
}

/** Whether a containment works here (tried for real once per process); `where` is its cgroup or unshare. */
export async function containmentAvailable(kind: "cgroup" | "pidns"): Promise<{ ok: true; where: string } | { ok: false; why: string }> {
  if (kind === "pidns") {
    const ns = probePidns();
    return ns.ok ? { ok: true, where: ns.why } : { ok: false, why: ns.why };
  }
  cgroupProbe ??= probeCgroups();
  const cg = await cgroupProbe;
  return cg.ok ? { ok: true, where: cg.base } : cg;
}

/**
 * The launch for a new host session. `name` (owner token and marker) names its cgroup, where one
 * is made. Throws when MDIND_TERMINAL_CONTAINMENT insists on a kind this machine cannot do.
 */
export async function planHostLaunch(shell: string, name: string): Promise<Launch> {
  const want = (process.env.MDIND_TERMINAL_CONTAINMENT ?? "auto").trim() || "auto";
  if (!["auto", "cgroup", "pidns", "marker"].includes(want)) {
    throw new AppError("internal", `MDIND_TERMINAL_CONTAINMENT must be auto, cgroup, pidns or marker, not ${want}`);
  }
  const reasons: string[] = [];
  for (const kind of ["cgroup", "pidns"] as const) {
    if (want !== "auto" && want !== kind) continue;
    const got = await containmentAvailable(kind);
    if (got.ok) return kind === "cgroup" ? cgroupLaunch(got.where, name, shell) : pidnsLaunch(got.where, shell);
    reasons.push(`${kind}: ${got.why}`);
  }
  if (want !== "auto" && want !== "marker") {
    throw new AppError("internal", `the host shell needs ${want} containment (MDIND_TERMINAL_CONTAINMENT), which is unavailable: ${reasons.join("; ")}`);
  }
  return { kind: "marker", file: shell, args: ["-l"], kill: async () => ({ ok: true, detail: "marker only" }) };
}

/** Which containment "auto" picks here and, when it is not cgroup, why: logged at start. */
export async function containmentReport(): Promise<{ kind: ContainmentKind; why?: string }> {
  const cg = await containmentAvailable("cgroup");
  if (cg.ok) return { kind: "cgroup" };
  const ns = await containmentAvailable("pidns");
  return ns.ok ? { kind: "pidns", why: cg.why } : { kind: "marker", why: `${cg.why}; ${ns.why}` };
}
