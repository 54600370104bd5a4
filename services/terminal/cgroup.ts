import fs from "node:fs";
import path from "node:path";
import { spawn } from "node:child_process";
import { OWNER_RE, ownerToken } from "./owner";

/**
 * cgroup v2 plumbing for host terminal sessions. A cgroup holds every process forked inside it
 * whatever the process does to its environment, session or process group, and writing "1" to its
 * cgroup.kill SIGKILLs all of them at once (Linux 5.14+). That is what ends a host shell that ran
 * `env -i setsid …`, which the marker reaper cannot see.
 */

/** Session cgroups are named `mdind-term.<owner token>.<marker>` (the sweep reads both back). */
export const CGROUP_PREFIX = "mdind-term.";
export const CGROUP_NAME_RE = new RegExp(`^mdind-term\\.(${OWNER_RE.source.slice(1, -1)})\\.([a-f0-9]{32})$`);

interface V2Mount {
  /** Where the cgroup2 file system is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid hosts). */
  mountPoint: string;
  /** The cgroup the mount's root shows (not "/" inside some containers). */
  root: string;
}

function v2Mount(): V2Mount | null {
  let info: string;
  try {
    info = fs.readFileSync("/proc/self/mountinfo", "utf8");
  } catch {
    return null;
  }
  for (const line of info.split("\n")) {
    const [left, right] = line.split(" - ");
    if (!right?.startsWith("cgroup2 ")) continue;
    const f = left.split(" ");
    // Octal escapes (\040 for a space) only appear in odd mount points; such a mount is skipped.
    if (f[3]?.includes("\\") || f[4]?.includes("\\")) continue;
    return { root: f[3], mountPoint: f[4] };
  }
  return null;
}

/** A cgroup path from /proc/<pid>/cgroup ("0::/a/b") as a directory, or null outside the mount. */
export function cgroupDir(cgPath: string, mount: V2Mount | null = v2Mount()): string | null {
  if (!mount || !cgPath.startsWith("/")) return null;
  const rel = mount.root === "/" ? cgPath : cgPath === mount.root ? "/" : cgPath.startsWith(`${mount.root}/`) ? cgPath.slice(mount.root.length) : null;
  return rel === null ? null : path.join(mount.mountPoint, rel);
}

/** The v2 cgroup path of a process ("0::" line), or null. */
export function cgroupOf(pid: number | "self"): string | null {
  try {
    const line = fs.readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n").find((l) => l.startsWith("0::"));
    return line ? line.slice(3) : null;
  } catch {
    return null;
  }
}

/** The directory of the dashboard's own cgroup, under which session cgroups are made. */
export function ownCgroupDir(): string | null {
  const p = cgroupOf("self");
  return p ? cgroupDir(p) : null;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function populated(dir: string): boolean {
  try {
    return /^populated 1$/m.test(fs.readFileSync(path.join(dir, "cgroup.events"), "utf8"));
  } catch {
    return false;
  }
}

/** SIGKILL everything in a session cgroup, wait until it is empty, remove it. True when it is gone. */
export async function killCgroup(dir: string, waitMs = 5000): Promise<boolean> {
  if (!CGROUP_NAME_RE.test(path.basename(dir))) throw new Error(`not a terminal cgroup: ${dir}`);
  if (!fs.existsSync(dir)) return true;
  const deadline = Date.now() + waitMs;
  for (;;) {
    try {
      fs.writeFileSync(path.join(dir, "cgroup.kill"), "1");
    } catch {
      // Gone meanwhile, or a kernel without cgroup.kill: rmdir below says which.
    }
    if (!populated(dir)) {
      try {
        fs.rmdirSync(dir);
        return true;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === "ENOENT") return true;
      }
    }
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
}

/**
 * Whether session cgroups work here, tried for real once: make one under our own cgroup, move a
 * throwaway process into it (the same write the launcher makes), kill it through cgroup.kill and
 * remove the cgroup. Any step failing (cgroup v1 only, a read-only /sys/fs/cgroup, no delegation to
 * this user, a kernel before 5.14) means no: the caller falls back.
 */
export async function probeCgroups(): Promise<{ ok: true; base: string } | { ok: false; why: string }> {
  const base = ownCgroupDir();
  if (!base) return { ok: false, why: "no cgroup v2 hierarchy is mounted for this process" };
  const dir = path.join(base, `${CGROUP_PREFIX}${ownerToken()}.${"0".repeat(32)}`);
  const child = spawn("sleep", ["30"], { stdio: "ignore" });
  try {
    await new Promise<void>((resolve, reject) => {
      child.once("spawn", resolve);
      child.once("error", reject);
    });
    fs.mkdirSync(dir);
    if (!fs.existsSync(path.join(dir, "cgroup.kill"))) return { ok: false, why: "this kernel has no cgroup.kill (needs Linux 5.14)" };
    fs.writeFileSync(path.join(dir, "cgroup.procs"), String(child.pid));
    if (!(await killCgroup(dir, 2000))) return { ok: false, why: "cgroup.kill did not empty the probe cgroup" };
    return { ok: true, base };
  } catch (e) {
    return { ok: false, why: `cannot use cgroups under ${base}: ${e instanceof Error ? e.message : String(e)}` };
  } finally {
    child.kill("SIGKILL");
    try {
      fs.rmdirSync(dir);
    } catch {
      // already removed, or never made
    }
  }
}
