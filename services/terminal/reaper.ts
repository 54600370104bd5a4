import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { execIn } from "../../lib/exec";
import { execOn } from "../../lib/cluster/engine-io";
import type { Engine } from "../../lib/cluster/swarm";

/**
 * Ending a terminal must end everything it started (moby #9098: closing `docker exec` leaves the
 * process and its children running). Every shell is started with a marker in its environment,
 * MDIND_TERM_SESSION=<random>, which every child inherits; a shell's background jobs also stay in
 * its session even when job control moves them to their own process group; and whatever the shell
 * starts stays its descendant, or the launcher's once its own parent is gone (launcher.ts). The
 * reaper takes the processes carrying the marker, adds their descendants and the members of their
 * sessions until the set stops growing, stops them all (SIGSTOP: a stopped process cannot fork a
 * replacement) and looks again until a pass finds nothing new, then kills them (SIGKILL). It
 * repeats until a pass finds nothing. `env -i setsid …` drops the marker and leaves the session but
 * stays a descendant: in a container the launcher keeps it one, on the host the session's cgroup or
 * PID namespace holds it anyway (host-shell.ts).
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
 * `scan` prints the session's live processes: the marked ones, then, over a table of
 * "pid ppid sid", their descendants and session members until the set stops growing.
 */
export const REAPER_SCRIPT = `
case "$1" in *[!a-f0-9]*|'') exit 64;; esac
[ "\${#1}" -eq 32 ] || exit 64
want="${MARKER_ENV}=$1"
self=$$
scan() {
  tab=""
  set_=" "
  sids=" "
  for d in /proc/[0-9]*; do
    p=\${d#/proc/}
    [ "$p" = "$self" ] && continue
    { read -r st < "$d/stat"; } 2>/dev/null || continue
    set -- \${st##*) }
    # Zombies are already dead; they wait for their parent to reap them.
    [ "$1" = Z ] && continue
    tab="$tab$p $2 $4
"
    if grep -qzxF -- "$want" "$d/environ" 2>/dev/null; then
      set_="$set_$p "
      [ "$4" != 0 ] && sids="$sids$4 "
    fi
  done
  [ "$set_" = " " ] && return
  grew=1
  while [ "$grew" = 1 ]; do
    grew=0
    while read -r p pp s; do
      [ -z "$p" ] && continue
      case "$set_" in *" $p "*) continue;; esac
      hit=0
      case "$set_" in *" $pp "*) hit=1;; esac
      [ "$s" != 0 ] && case "$sids" in *" $s "*) hit=1;; esac
      [ "$hit" = 1 ] || continue
      set_="$set_$p "
      [ "$s" != 0 ] && case "$sids" in *" $s "*) ;; *) sids="$sids$s ";; esac
      grew=1
    done <<MDIND_TABLE
$tab
MDIND_TABLE
  done
  echo $set_
}
round=0
while [ "$round" -lt 10 ]; do
  frozen=" "
  pass=0
  while [ "$pass" -lt 20 ]; do
    new=""
    for p in $(scan); do
      case "$frozen" in *" $p "*) ;; *) new="$new $p"; frozen="$frozen$p ";; esac
    done
    [ -z "$new" ] && break
    kill -STOP $new 2>/dev/null
    pass=$((pass + 1))
  done
  [ "$frozen" = " " ] && { echo "reaped-rounds=$round"; exit 0; }
  kill -KILL $frozen 2>/dev/null
  round=$((round + 1))
  sleep 0.1
done
echo "still-alive:$frozen"
exit 1
`;

/**
 * Kill every process of a container terminal session. Resolves with what the reaper reported.
 * The reaper runs as the shell's own user: containers run without CAP_SYS_PTRACE, so root there
 * cannot read another user's /proc/<pid>/environ, while the same user can (and may signal it).
 */
export async function reapContainer(container: string, marker: string, user?: string, engine?: Engine): Promise<{ ok: boolean; detail: string }> {
  if (!MARKER_RE.test(marker)) throw new Error("bad terminal marker");
  const argv = ["sh", "-c", REAPER_SCRIPT, "mdind-reaper", marker];
  if (engine) {
    // A container on another node of a cluster, through that node's engine.
    // Bounded like the local one: a node that stopped answering must not hold up a shutdown.
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error("the node did not answer within 30 s")), 30_000)));
    try {
      const r = await Promise.race([execOn(engine, container, argv, { user, check: false, what: "terminal reaper" }), late]);
      return { ok: r.exitCode === 0, detail: (r.stdout.toString() + r.stderr).trim() };
    } finally {
      clearTimeout(timer);
    }
  }
  const r = await execIn(container, argv, { user, check: false, what: "terminal reaper", timeoutMs: 30_000 });
  return { ok: r.exitCode === 0, detail: (r.stdout + r.stderr).trim() };
}

interface ProcRow {
  ppid: number;
  sid: number;
}

/** Live (non-zombie) processes of this pid namespace with their parent and session. */
function processTable(): Map<number, ProcRow> {
  const rows = new Map<number, ProcRow>();
  let entries: string[] = [];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return rows;
  }
  for (const e of entries) {
    if (!/^[0-9]+$/.test(e)) continue;
    try {
      const st = fs.readFileSync(`/proc/${e}/stat`, "utf8");
      const fields = st.slice(st.lastIndexOf(")") + 2).split(" ");
      // Zombies are already dead; they wait for their parent to reap them.
      if (fields[0] === "Z") continue;
      rows.set(Number(e), { ppid: Number(fields[1]), sid: Number(fields[3]) });
    } catch {
      // gone meanwhile
    }
  }
  return rows;
}

/** Whether a process's environment holds `entry` as one whole NUL-terminated variable. */
export function environHas(pid: number, entry: string): boolean {
  let env: Buffer;
  try {
    env = fs.readFileSync(`/proc/${pid}/environ`);
  } catch {
    // Not ours to read (another user's process): it cannot be one we started either.
    return false;
  }
  const want = Buffer.from(entry);
  for (let idx = env.indexOf(want); idx >= 0; idx = env.indexOf(want, idx + 1)) {
    const end = idx + want.length;
    if ((idx === 0 || env[idx - 1] === 0) && (end === env.length || env[end] === 0)) return true;
  }
  return false;
}

/**
 * Processes on this machine (same pid namespace) of one host session: those carrying the marker,
 * those in `sid`'s session, and, until the set stops growing, their descendants and session members.
 */
export function hostSessionPids(marker: string, sid: number | null): number[] {
  const table = processTable();
  const self = process.pid;
  const entry = `${MARKER_ENV}=${marker}`;
  const set = new Set<number>();
  const sids = new Set<number>(sid ? [sid] : []);
  for (const [pid, row] of table) {
    if (pid !== self && environHas(pid, entry)) {
      set.add(pid);
      sids.add(row.sid);
    }
  }
  sids.delete(0);
  for (let grew = true; grew; ) {
    grew = false;
    for (const [pid, row] of table) {
      if (pid === self || set.has(pid) || !(set.has(row.ppid) || sids.has(row.sid))) continue;
      set.add(pid);
      if (row.sid !== 0) sids.add(row.sid);
      grew = true;
    }
  }
  return [...set];
}

function signal(pids: Iterable<number>, sig: NodeJS.Signals) {
  for (const p of pids) {
    try {
      process.kill(p, sig);
    } catch {
      // already gone
    }
  }
}

/** Same technique for a host session, done from here with signals. */
export async function reapHost(marker: string, sid: number | null): Promise<{ ok: boolean; detail: string }> {
  let frozen = new Set<number>();
  for (let round = 0; round < 10; round++) {
    frozen = new Set<number>();
    for (let pass = 0; pass < 20; pass++) {
      const fresh = hostSessionPids(marker, sid).filter((p) => !frozen.has(p));
      if (fresh.length === 0) break;
      signal(fresh, "SIGSTOP");
      for (const p of fresh) frozen.add(p);
    }
    if (frozen.size === 0) return { ok: true, detail: `reaped-rounds=${round}` };
    signal(frozen, "SIGKILL");
    await new Promise((r) => setTimeout(r, 100));
  }
  return { ok: false, detail: `still-alive:${[...frozen].join(" ")}` };
}
