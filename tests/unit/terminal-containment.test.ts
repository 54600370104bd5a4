import { spawn, spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { CGROUP_NAME_RE, cgroupDir } from "../../services/terminal/cgroup";
import { LAUNCHER_SCRIPT, LIST_LAUNCHERS_SCRIPT, launcherArgv, parseLauncherList } from "../../services/terminal/launcher";
import { OWNER_RE, ownerState, ownerToken } from "../../services/terminal/owner";
import { newMarker } from "../../services/terminal/reaper";

/**
 * The pieces that hold a terminal session together (issue #18), without an engine: owner tokens,
 * cgroup names and paths, and the container launcher run here with the host's perl. The real
 * sessions are in tests/integration/terminal-escape.test.ts.
 */
describe("owner token", () => {
  it("names this dashboard, which is alive", () => {
    const t = ownerToken();
    expect(t).toMatch(OWNER_RE);
    expect(t.split(".")[3]).toBe(String(process.pid));
    expect(ownerState(t)).toBe("alive");
  });

  it("judges only tokens of this data dir, boot and pid namespace", () => {
    const [home, boot, ns, , start] = ownerToken().split(".");
    expect(ownerState(`${"f".repeat(12)}.${boot}.${ns}.${process.pid}.${start}`)).toBe("foreign");
    expect(ownerState(`${home}.${"e".repeat(12)}.${ns}.${process.pid}.${start}`)).toBe("foreign");
    expect(ownerState(`${home}.${boot}.1.${process.pid}.${start}`)).toBe("foreign");
    expect(ownerState("not a token")).toBe("foreign");
  });

  it("sees a dead owner, and a reused pid, as gone", async () => {
    const [home, boot, ns] = ownerToken().split(".");
    const child = spawn("true");
    await new Promise((r) => child.once("exit", r));
    expect(ownerState(`${home}.${boot}.${ns}.${child.pid}.1`)).toBe("gone");
    // Our own pid with another start time: the process that had it is gone.
    expect(ownerState(`${home}.${boot}.${ns}.${process.pid}.1`)).toBe("gone");
  });
});

describe("session cgroups", () => {
  it("are named by owner and marker, and nothing else matches", () => {
    const marker = newMarker();
    const m = CGROUP_NAME_RE.exec(`mdind-term.${ownerToken()}.${marker}`);
    expect(m?.[1]).toBe(ownerToken());
    expect(m?.[2]).toBe(marker);
    for (const bad of ["mdind-term.x", `mdind-term.${ownerToken()}.${marker}/..`, `mdind-term.${ownerToken()}`, `x${"mdind-term."}${ownerToken()}.${marker}`]) {
      expect(CGROUP_NAME_RE.test(bad), bad).toBe(false);
    }
  });

  it("map /proc/<pid>/cgroup paths onto the cgroup2 mount", () => {
    expect(cgroupDir("/a/b", { mountPoint: "/sys/fs/cgroup", root: "/" })).toBe("/sys/fs/cgroup/a/b");
    expect(cgroupDir("/a/b", { mountPoint: "/sys/fs/cgroup/unified", root: "/" })).toBe("/sys/fs/cgroup/unified/a/b");
    // A mount whose root is a sub-cgroup (inside a container): only paths under it are reachable.
    expect(cgroupDir("/docker/x/y", { mountPoint: "/sys/fs/cgroup", root: "/docker/x" })).toBe("/sys/fs/cgroup/y");
    expect(cgroupDir("/other", { mountPoint: "/sys/fs/cgroup", root: "/docker/x" })).toBeNull();
    expect(cgroupDir("relative", { mountPoint: "/sys/fs/cgroup", root: "/" })).toBeNull();
  });
});

const perl = spawnSync("perl", ["-e", "1"]).status === 0;

describe("container launcher", () => {
  it("passes marker, owner and command as arguments, never inside script text", () => {
    const marker = newMarker();
    const argv = launcherArgv(marker, ownerToken(), ["sh", "-c", "exec bash -l"]);
    expect(argv.slice(0, 2)).toEqual(["sh", "-c"]);
    expect(argv.slice(3)).toEqual([LAUNCHER_SCRIPT, marker, ownerToken(), "sh", "-c", "exec bash -l"]);
    expect(argv[2]).not.toContain(marker);
    expect(LAUNCHER_SCRIPT).not.toContain(marker);
  });

  it("parses only well-formed listing lines", () => {
    const marker = newMarker();
    expect(parseLauncherList(`12 33 ${marker} ${ownerToken()}\ngarbage\n13 0 xyz ${ownerToken()}\n`)).toEqual([
      { pid: 12, uid: 33, marker, owner: ownerToken() },
    ]);
  });

  it.skipIf(!perl)("runs the command, passes its exit code on, kills what the command left, and is listed meanwhile", async () => {
    const marker = newMarker();
    const owner = ownerToken();
    const uniq = `9${Date.now() % 1_000_000}.5`;
    // The command leaves an orphan behind (a sleep in a new session whose parent exits), then exits 3.
    const run = spawn("sh", launcherArgv(marker, owner, ["sh", "-c", `setsid sh -c 'sleep ${uniq} & exit'; sleep 1; exit 3`]).slice(1), {
      stdio: "ignore",
    });
    await new Promise((r) => setTimeout(r, 500));
    const listed = parseLauncherList(spawnSync("perl", ["-e", LIST_LAUNCHERS_SCRIPT], { encoding: "utf8" }).stdout);
    expect(listed.find((l) => l.marker === marker)).toMatchObject({ pid: run.pid, uid: process.getuid?.(), owner });
    const code = await new Promise<number | null>((r) => run.once("exit", r));
    expect(code).toBe(3);
    expect(spawnSync("pgrep", ["-f", `^sleep ${uniq}$`]).status).toBe(1);
  });

  it.skipIf(!perl)("refuses a malformed marker before running anything", () => {
    const r = spawnSync("sh", launcherArgv("../../etc", ownerToken(), ["touch", "/nonexistent/never"]).slice(1));
    expect(r.status).toBe(64);
  });
});
