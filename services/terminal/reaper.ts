import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { execIn } from "../../lib/exec";

/**
 * Ending a terminal must end everything it started (moby #9098: closing `docker exec` leaves the
 * process and its children running). Every shell is started with a marker in its environment,
 * MDIND_TERM_SESSION=<random>, which every child inherits; a shell's background jobs also stay in
 * its session even when job control moves them to their own process group. The reaper finds every
 * process carrying the marker, plus every process in the session of one that does, stops them all
 * (SIGSTOP, so nothing forks a replacement while we work) and then kills them (SIGKILL). It repeats
 * until a pass finds nothing. Only a process that both clears its environment and leaves the
 * session (`env -i setsid …`) escapes, which takes intent; that is documented in docs/terminal.md.
 */
export const MARKER_ENV = "MDIND_TERM_SESSION";
export const MARKER_RE = /^[a-f0-9]{32}$/;

export function newMarker(): string {
  return randomBytes(16).toString("hex");
}

/**
 * Runs inside the container as the shell's user. Fixed text: the marker arrives as "$1" (never interpolated into
 * the script), and is checked against the marker format before use. Needs only POSIX sh, GNU grep
 * (-z reads NUL-separated environ files) and kill, which every image of ours has (Debian based).
 */
export const REAPER_SCRIPT = `
case "$1" in *[!a-f0-9]*|'') exit 64;; esac
[ "\${#1}" -eq 32 ] || exit 64
want="${MARKER_ENV}=$1"
self=$$
round=0
while [ "$round" -lt 10 ]; do
  marked=""
  sids=" "
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = "$self" ] && continue
    if grep -qzxF -- "$want" "$d/environ" 2>/dev/null; then
      marked="$marked $p"
      if read -r st < "$d/stat" 2>/dev/null; then
        set -- \${st##*) }
        sids="$sids$4 "
      fi
    fi
  done
  members=""
  if [ "$sids" != " " ]; then
    for d in /proc/[0-9]*; do
      p=\${d#/proc/}
      [ "$p" = "$self" ] && continue
      case " $marked " in *" $p "*) continue;; esac
      if read -r st < "$d/stat" 2>/dev/null; then
        set -- \${st##*) }
        # Zombies are already dead; they wait for init to reap them.
        [ "$1" = Z ] && continue
        case "$sids" in *" $4 "*) [ "$4" != 0 ] && members="$members $p";; esac
      fi
    done
  fi
  all="$marked$members"
  [ -z "$all" ] && { echo "reaped-rounds=$round"; exit 0; }
  kill -STOP $all 2>/dev/null
  kill -KILL $all 2>/dev/null
  round=$((round + 1))
  sleep 0.1
done
echo "still-alive:$all"
exit 1
`;

/**
 * Kill every process of a container terminal session. Resolves with what the reaper reported.
 * The reaper runs as the shell's own user: containers run without CAP_SYS_PTRACE, so root there
 * cannot read another user's /proc/<pid>/environ, while the same user can (and may signal it).
 */
export async function reapContainer(container: string, marker: string, user?: string): Promise<{ ok: boolean; detail: string }> {
  if (!MARKER_RE.test(marker)) throw new Error("bad terminal marker");
  const r = await execIn(container, ["sh", "-c", REAPER_SCRIPT, "mdind-reaper", marker], {
    user,
    check: false,
    what: "terminal reaper",
    timeoutMs: 15_000,
  });
  return { ok: r.exitCode === 0, detail: (r.stdout + r.stderr).trim() };
}

/** Processes on this machine (same pid namespace) carrying the marker or in `sid`'s session. */
export function hostSessionPids(marker: string, sid: number | null): number[] {
  const want = Buffer.from(`${MARKER_ENV}=${marker}\0`);
  const self = process.pid;
  const marked = new Set<number>();
  const sids = new Set<number>(sid ? [sid] : []);
  const stats = new Map<number, number>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return [];
  }
  for (const e of entries) {
    if (!/^[0-9]+$/.test(e)) continue;
    const pid = Number(e);
    if (pid === self) continue;
    try {
      const st = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = st.slice(st.lastIndexOf(")") + 2).split(" ");
      // Zombies are already dead; they wait for their new parent to reap them.
      if (fields[0] === "Z") continue;
      stats.set(pid, Number(fields[3]));
    } catch {
      continue;
    }
    try {
      const env = fs.readFileSync(`/proc/${pid}/environ`);
      // The marker is a whole NUL-terminated entry, or the last one.
      const idx = env.indexOf(want.subarray(0, want.length - 1));
      if (idx >= 0 && (idx === 0 || env[idx - 1] === 0) && (idx + want.length - 1 === env.length || env[idx + want.length - 1] === 0)) {
        marked.add(pid);
        sids.add(stats.get(pid) ?? 0);
      }
    } catch {
      // Not ours to read (another user's process): it cannot be one we started either.
    }
  }
  sids.delete(0);
  const out = new Set(marked);
  for (const [pid, s] of stats) if (sids.has(s)) out.add(pid);
  out.delete(self);
  return [...out];
}

/** Same technique for the host shell, done from here with signals. */
export async function reapHost(marker: string, sid: number | null): Promise<{ ok: boolean; detail: string }> {
  let all: number[] = [];
  for (let round = 0; round < 10; round++) {
    all = hostSessionPids(marker, sid);
    if (all.length === 0) return { ok: true, detail: `reaped-rounds=${round}` };
    for (const p of all) {
      try {
        process.kill(p, "SIGSTOP");
      } catch {
        // already gone
      }
    }
    for (const p of all) {
      try {
        process.kill(p, "SIGKILL");
      } catch {
        // already gone
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ok: false, detail: `still-alive:${all.join(" ")}` };
}
