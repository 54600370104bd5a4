import fs from "node:fs";
import { homeId } from "../../lib/docker";

/**
 * Which dashboard process owns a terminal session, so a dashboard starting up can tell the shells
 * a SIGKILLed predecessor left behind from the live shells of another dashboard. The token travels
 * with the session (the launcher's argv in a container, the environment and the cgroup name on the
 * host) and reads `<home>.<boot>.<pidns>.<pid>.<start>`:
 *
 * - home: the data dir's id. A dashboard only sweeps what dashboards of its own data dir left.
 * - boot, pidns: whether a pid in the token can be looked up here at all. A token from another
 *   machine or pid namespace (a remote engine shared by two dashboards) cannot be judged and is
 *   left alone.
 * - pid, start: the process and its start time in clock ticks, so a reused pid is not mistaken
 *   for the owner.
 */
export const OWNER_ENV = "MDIND_TERM_OWNER";
export const OWNER_RE = /^[a-f0-9]{12}\.[a-f0-9]{1,12}\.[0-9]{1,12}\.[0-9]{1,10}\.[0-9]{1,20}$/;

function read(file: string): string | null {
  try {
    return fs.readFileSync(file, "utf8");
  } catch {
    return null;
  }
}

/** Start time (field 22 of /proc/<pid>/stat) of a live, non-zombie process; null when there is none. */
export function startTimeOf(pid: number): string | null {
  const st = read(`/proc/${pid}/stat`);
  if (!st) return null;
  const fields = st.slice(st.lastIndexOf(")") + 2).split(" ");
  if (fields[0] === "Z") return null;
  return fields[19] ?? null;
}

function bootId(): string {
  // Without /proc (macOS) "0" stands in; the pid check then falls back to kill(pid, 0).
  return (read("/proc/sys/kernel/random/boot_id") ?? "0").replace(/[^a-f0-9]/g, "").slice(0, 12) || "0";
}

function pidNs(): string {
  try {
    return /\[(\d+)\]/.exec(fs.readlinkSync("/proc/self/ns/pid"))?.[1] ?? "0";
  } catch {
    return "0";
  }
}

let self: string | null = null;

/** This dashboard's token (fixed for the life of the process, apart from the data dir). */
export function ownerToken(): string {
  self ??= `${bootId()}.${pidNs()}.${process.pid}.${startTimeOf(process.pid) ?? "0"}`;
  return `${homeId()}.${self}`;
}

/**
 * "gone": the owning dashboard no longer runs, its sessions are orphans. "alive": it runs.
 * "foreign": another data dir, another machine or another pid namespace; not ours to judge.
 */
export function ownerState(token: string): "gone" | "alive" | "foreign" {
  if (!OWNER_RE.test(token)) return "foreign";
  const [home, boot, ns, pidText, start] = token.split(".");
  const mine = ownerToken().split(".");
  if (home !== mine[0] || boot !== mine[1] || ns !== mine[2]) return "foreign";
  const pid = Number(pidText);
  if (start === "0") {
    try {
      process.kill(pid, 0);
      return "alive";
    } catch (e) {
      return (e as NodeJS.ErrnoException).code === "EPERM" ? "alive" : "gone";
    }
  }
  return startTimeOf(pid) === start ? "alive" : "gone";
}
