/**
 * bench create: fresh CLI install vs create-from-template vs clone, measured in one run on this
 * machine, with the time of every step and the ratios. Real Moodle when MOODLE_SOURCE is set,
 * else the fixture app (whose "install" is trivial, so only the plumbing is measured).
 *
 *   MOODLE_SOURCE=/path/to/moodle npm run bench -- create
 *
 * "Ready" means the login page (or the fixture page) answers 200 on 127.0.0.1.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import { header } from "./lib/common";

const home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-bench-create-"));
process.env.MDIND_HOME = home;
const moodle = process.env.MOODLE_SOURCE ? "5.1" : "fixture";
const probe = moodle === "fixture" ? "/" : "/login/index.php";
const sfx = process.pid.toString(36).slice(-4);

function status(port: number): Promise<number> {
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: probe, timeout: 60_000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on("error", () => resolve(0));
    req.on("timeout", () => req.destroy());
  });
}

interface Run {
  label: string;
  seconds: number;
  steps: Record<string, number>;
  /** The operation's progress, in ms since the create began: where the time goes. */
  timeline: string[];
}

async function measure(label: string, name: string, fn: () => Promise<{ port: number }>): Promise<Run> {
  const { subscribe } = await import("../lib/operations");
  const steps: Record<string, number> = {};
  const timeline: string[] = [];
  const t0 = Date.now();
  const at = () => `+${String(Date.now() - t0).padStart(5)} ms`;
  const off = subscribe(name, (ev) => {
    if (ev.type === "step" && ev.step) timeline.push(`${at()}  ${ev.step} ${ev.status}`);
    if (ev.type === "log" && ev.message) timeline.push(`${at()}    ${ev.message}`);
    if (ev.type === "step" && ev.status === "done" && ev.step && ev.durationMs !== undefined) steps[ev.step] = ev.durationMs / 1000;
  });
  const rec = await fn();
  timeline.push(`${at()}  create returned`);
  while ((await status(rec.port)) !== 200) await new Promise((r) => setTimeout(r, 100));
  const seconds = (Date.now() - t0) / 1000;
  timeline.push(`${at()}  ${probe} answered 200`);
  off();
  return { label, seconds, steps, timeline };
}

async function main() {
  const { removeInstance } = await import("../instances/lifecycle");
  const { createInstance } = await import("../instances/create");
  const { parseCreateInput } = await import("../instances/spec");
  const { cloneInstance } = await import("../instances/archive");
  const { ping } = await import("../lib/docker");
  await ping();
  const { settleSpares, keepSparesReady } = await import("../instances/spares");
  // As the dashboard does: this process outlives each create, so it keeps a spare code tree ready.
  keepSparesReady();
  const names = { fresh: `bfresh-${sfx}`, tpl: `btpl-${sfx}`, cold: `bcold-${sfx}`, clone: `bclone-${sfx}` };
  const made: string[] = [];
  // Each create starts on a quiet machine: the spare code tree a create leaves behind is finished
  // before the next measurement starts (the product makes it after a create, in the background).
  try {
    made.push(names.fresh);
    const fresh = await measure("fresh install", names.fresh, () => createInstance(parseCreateInput({ name: names.fresh, moodle })));
    await settleSpares();
    made.push(names.tpl);
    const tpl = await measure("from template", names.tpl, () => createInstance(parseCreateInput({ name: names.tpl, moodle })));
    await settleSpares();
    // The same create when no spare code tree is ready (two creates in a row, or spares turned off).
    made.push(names.cold);
    process.env.MDIND_CODE_SPARES = "0";
    const cold = await measure("tpl, no spare", names.cold, () => createInstance(parseCreateInput({ name: names.cold, moodle })));
    delete process.env.MDIND_CODE_SPARES;
    made.push(names.clone);
    const clone = await measure("clone", names.clone, () => cloneInstance(names.fresh, names.clone));
    await settleSpares();

    const runs = [fresh, tpl, cold, clone];
    const stepNames = [...new Set(runs.flatMap((r) => Object.keys(r.steps)))];
    const pad = (s: string, n: number) => s.padEnd(n);
    console.log(`\n${header("create", moodle === "fixture" ? "fixture app" : `Moodle from ${process.env.MOODLE_SOURCE}`)}`);
    console.log(`${pad("step", 14)}${runs.map((r) => pad(r.label, 16)).join("")}`);
    for (const s of stepNames) console.log(`${pad(s, 14)}${runs.map((r) => pad(r.steps[s] !== undefined ? `${r.steps[s].toFixed(2)} s` : "—", 16)).join("")}`);
    console.log(`${pad("to 200", 14)}${runs.map((r) => pad(`${r.seconds.toFixed(2)} s`, 16)).join("")}`);
    console.log(`\nfrom template: ${tpl.seconds.toFixed(2)} s (target ≤ 5 s), ${(fresh.seconds / tpl.seconds).toFixed(1)}× faster than a fresh install (target ≥ 9×)`);
    console.log(`  without a spare code tree: ${cold.seconds.toFixed(2)} s, ${(fresh.seconds / cold.seconds).toFixed(1)}× faster than a fresh install`);
    console.log(`clone:         ${clone.seconds.toFixed(2)} s, ${(fresh.seconds / clone.seconds).toFixed(1)}× faster than a fresh install`);
    console.log(`\nfrom template, step by step (steps overlap: code, moodledata and the database run side by side):\n  ${tpl.timeline.join("\n  ")}`);
  } finally {
    await settleSpares();
    for (const n of made.reverse()) await removeInstance(n).catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
