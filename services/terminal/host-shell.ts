import fs from "node:fs";
import os from "node:os";
import { settings } from "../../lib/config";
import { planHostLaunch } from "./containment";
import { OWNER_ENV, ownerToken } from "./owner";
import { MARKER_ENV, newMarker, reapHost } from "./reaper";
import type { Shell } from "./shells";

/**
 * Environment for the host shell: only what a shell needs, so the dashboard's own secrets
 * (MDIND_ADMIN_PASSWORD and friends) never reach it. The marker and the owner token let the reaper
 * and the start-up sweep find the session's processes (reaper.ts, sweep.ts).
 */
function hostEnv(marker: string, owner: string): Record<string, string> {
  const keep = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "DOCKER_HOST", "TZ"];
  const env: Record<string, string> = {};
  for (const k of keep) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env.TERM = "xterm-256color";
  env.COLORTERM = "truecolor";
  env.LANG = process.env.LANG ?? "C.UTF-8";
  env.MDIND_HOME = settings().home;
  env[MARKER_ENV] = marker;
  env[OWNER_ENV] = owner;
  return env;
}

/** A login shell on this machine in a pty, contained as containment.ts decides. */
export async function openHostShell(cols: number, rows: number): Promise<Shell> {
  const pty = await import("node-pty");
  const marker = newMarker();
  const owner = ownerToken();
  const bash = ["/bin/bash", "/usr/bin/bash"].find((p) => fs.existsSync(p));
  const launch = await planHostLaunch(bash ?? "/bin/sh", `${owner}.${marker}`);
  const proc = pty.spawn(launch.file, launch.args, {
    name: "xterm-256color",
    cols,
    rows,
    cwd: process.env.HOME && fs.existsSync(process.env.HOME) ? process.env.HOME : os.homedir(),
    env: hostEnv(marker, owner),
  });
  // node-pty starts the launcher with setsid(): its pid is the session id of everything it starts.
  const sid = proc.pid;
  const exitCbs: ((code: number | null) => void)[] = [];
  proc.onExit(({ exitCode, signal }) => {
    for (const cb of exitCbs) cb(signal ? 128 + signal : exitCode);
  });
  let ended: Promise<{ ok: boolean; detail: string }> | null = null;
  return {
    containment: launch.kind,
    // Bytes as they came: a large paste arrives in several frames that may split a UTF-8 character.
    write: (d) => proc.write(d),
    resize: (w, h) => {
      try {
        proc.resize(w, h);
      } catch {
        // the pty is already gone
      }
    },
    onData: (cb) => {
      proc.onData((s) => cb(Buffer.from(s, "utf8")));
    },
    onExit: (cb) => exitCbs.push(cb),
    pause: () => proc.pause(),
    resume: () => proc.resume(),
    end: () => {
      ended ??= (async () => {
        // The containment's one kill first; then the marker reaper for anything a root shell moved out of it.
        const contained = await launch.kill(proc.pid);
        const reaped = await reapHost(marker, sid);
        return { ok: contained.ok && reaped.ok, detail: `${launch.kind}: ${contained.detail}; ${reaped.detail}` };
      })();
      return ended;
    },
  };
}
