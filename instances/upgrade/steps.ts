import fs from "node:fs/promises";
import path from "node:path";
import { docker } from "../../lib/docker";
import { AppError, CommandError } from "../../lib/errors";
import { execIn } from "../../lib/exec";
import { treeDir } from "../../lib/moodle/paths";
import { isRealDir } from "../../lib/moodle/plugins";
import { run } from "../../lib/proc";
import { renderContext, startServices } from "../lifecycle";
import { httpStatusOf, waitReady } from "../ready";
import { moodleConfig, renderAll } from "../render";
import { chownWww, copyCode } from "../source";
import { containerName } from "../stack";
import { dataDir, instanceDir, readSecrets, updateRecord, type InstanceRecord } from "../store";
import type { UpgradePlan } from "./plan";

/** Where the code before the upgrade waits until the upgrade is done (or is put back). */
export const asideDir = (name: string) => `${dataDir(name, "code")}.pre-upgrade`;

/**
 * One of Moodle's own admin/cli scripts, as www-data in the app container, from the code root
 * (admin/cli stays at the root on 5.1 too). Its output goes to the operation log line by line.
 */
export async function moodleCli(name: string, script: string, args: string[], log: (l: string) => void): Promise<void> {
  let buffered = "";
  const flush = (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split("\n");
    buffered = lines.pop() ?? "";
    for (const l of lines) if (l.trim()) log(l.trimEnd());
  };
  try {
    await execIn(containerName(name, "app"), ["php", `admin/cli/${script}`, ...args], {
      user: "www-data", workdir: "/var/www/moodle", what: `admin/cli/${script}`, onOutput: flush,
    });
  } finally {
    if (buffered.trim()) log(buffered.trim());
  }
}

/**
 * The code swap: the old tree is set aside (a rollback puts it back as it was), the target build
 * is linked in, the site's added plugins move over, config.php is written as create writes it, and
 * the web server's site is rendered again when the web root moves (5.1: public/). The record then
 * names the new build, so its usedBy and the next views follow.
 */
export async function swapCode(plan: UpgradePlan, log: (l: string) => void): Promise<InstanceRecord> {
  const { rec, build, spec } = plan;
  const name = rec.name;
  const code = dataDir(name, "code");
  // The mounts name the folder, not its inode: the containers must not run while it changes.
  for (const s of ["web", "cron", "app"] as const) {
    await docker().getContainer(containerName(name, s)).stop({ t: 10 }).catch(() => undefined);
  }
  await fs.rm(asideDir(name), { recursive: true, force: true });
  await fs.rename(code, asideDir(name));
  await copyCode(treeDir(build.id), code, { link: true });
  for (const p of plan.carry) {
    // Checked again now that nothing in the site runs: a link here would make cp read the host.
    if (!(await isRealDir(asideDir(name), p.from))) throw new AppError("conflict", `${p.from} is no longer a plain folder: ${p.component} not carried`);
    await fs.mkdir(path.dirname(path.join(code, p.to)), { recursive: true });
    // Links, not a move: the tree set aside stays whole for a rollback.
    await run("cp", ["-al", path.join(asideDir(name), p.from), path.join(code, p.to)]);
    log(`carried ${p.component} over (${p.from} → ${p.to})`);
  }
  const { dbPassword } = await readSecrets(name);
  const ctx = renderContext(spec, rec.n, rec.port, build.publicDir, dbPassword);
  await fs.writeFile(path.join(code, "config.php"), moodleConfig(ctx), { mode: 0o640 });
  await chownWww(path.join(code, "config.php"));
  if (build.publicDir !== rec.source.publicDir) {
    const web = `${spec.web.server}-${spec.web.version}`;
    for (const f of renderAll(ctx).filter((x) => x.dir === web)) {
      await fs.writeFile(path.join(instanceDir(name), "config", f.dir, f.file), f.content);
    }
    log(`config/${web} rendered again: the web root is now ${build.publicDir ? "public/" : "the code root"} (the old one is in the snapshot)`);
  }
  const next = await updateRecord(name, {
    spec,
    source: {
      branch: build.branch, release: build.release, version: build.version, publicDir: build.publicDir,
      origin: build.id, buildId: build.id, vendor: build.vendor,
    },
  });
  await startServices(name, ["app", "web"]);
  await waitReady(name, spec, rec.port, ["app", "web"], log);
  return next;
}

/** Moodle's login page answers 200: the upgraded site serves real pages, not only the health probe. */
export async function loginAnswers(port: number, log: (l: string) => void, timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = 0;
  for (;;) {
    last = await httpStatusOf(port, "/login/index.php", 60_000).catch(() => 0);
    if (last === 200) {
      log("login page answers 200");
      return;
    }
    if (Date.now() > deadline) throw new AppError("engine", `the login page answers ${last || "nothing"} instead of 200`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/**
 * One line of what went wrong, in Moodle's own words when a script of its failed: its CLI prints
 * the error as "!!! message !!!" (and "Error code: …") before a stack trace, so those lines come
 * first; otherwise the last lines of its output.
 */
export function moodleSaid(e: unknown): string {
  const flat = (s: string) => s.split("\n").map((l) => l.trim()).filter(Boolean).join(" | ");
  if (!(e instanceof CommandError)) return flat(e instanceof Error ? e.message : String(e));
  const lines = `${e.stdout}\n${e.stderr}`.split("\n").map((l) => l.trim()).filter(Boolean);
  const said = lines
    .filter((l) => /^!!! .+ !!!$/.test(l) || /^Error code: /.test(l) || /^Default exception handler: /.test(l))
    .map((l) => l.replace(/^!!! | !!!$| !!$/g, ""));
  const what = `${e.command.join(" ")} exited with ${e.exitCode ?? "a signal"}`;
  return `${what}: ${said.length ? said.join(" | ") : lines.slice(-5).join(" | ")}`;
}
