import { afterAll, describe, expect, it } from "vitest";
import type { ReconcileReport } from "../../services/reconcile";
import { cli, cliSpawn, FULL, inventory, purgeHome, siteStatus, sleep, summary, tempHome } from "./helpers";

/**
 * Scenario 2: SIGKILL the control plane (the CLI process, which drives the engine itself) at a
 * random point of create, create-from-template, clone and delete. After each kill,
 * `moodle-dind reconcile` runs, a second reconcile must report `consistent: true`, and the
 * instance is either complete (its site answers 200) or gone without a trace.
 */
const home = tempHome("mdind-rel-crash-");
const env = { MDIND_HOME: home, MDIND_DEFAULT_MOODLE: "fixture" };
const KILLS = FULL ? 12 : 4;
const seed = Number(process.env.MDIND_RELIABILITY_SEED ?? Date.now() % 100_000);
let state = seed;
/** Small deterministic PRNG so a failing run can be replayed with MDIND_RELIABILITY_SEED. */
const rand = (n: number) => {
  state = (state * 1103515245 + 12345) % 2147483648;
  return state % n;
};

type Op = "create" | "template" | "clone" | "delete";
const PLAN: Op[] = ["template", "delete", "clone", "create"];

interface KillResult { op: Op; name: string; killedAt: string; outcome: "complete" | "gone" | "broken"; why?: string }

/** Start the CLI and SIGKILL it at the k-th progress line (plus a little jitter). */
async function runAndKill(args: string[], k: number): Promise<{ killed: boolean; at: string }> {
  const child = cliSpawn(args, env);
  let lines = 0;
  let last = "";
  let killed = false;
  child.stdout!.resume();
  child.stderr!.on("data", (d: Buffer) => {
    for (const l of d.toString().split("\n").filter(Boolean)) {
      lines++;
      last = l.replace(/^\S+\s+/, "");
      if (lines === k && !killed) {
        killed = true;
        setTimeout(() => child.kill("SIGKILL"), rand(800));
      }
    }
  });
  const code = await new Promise<number | null>((r) => child.on("close", (c) => r(c)));
  return { killed: killed && code === null, at: last };
}

async function judge(name: string): Promise<{ outcome: KillResult["outcome"]; why?: string }> {
  const info = await cli(["info", name, "--json"], env);
  const inv = await inventory(home);
  const containers = inv.containers.filter((c) => c.instance === name);
  if (info.code === 0) {
    const v = JSON.parse(info.stdout) as { status: string; port: number };
    const http = await siteStatus(v.port);
    if (v.status === "running" && http === 200 && containers.length === 4) return { outcome: "complete" };
    return { outcome: "broken", why: `status ${v.status}, http ${http}, ${containers.length} containers` };
  }
  if (info.code === 4 && containers.length === 0 && !inv.folders.includes(name)) return { outcome: "gone" };
  return { outcome: "broken", why: `info exit ${info.code}: ${info.stderr.trim()}; ${containers.length} containers; folder ${inv.folders.includes(name)}` };
}

/** Each report is `{}` when reconcile printed nothing (it failed), hence Partial. */
async function reconcileTwice(): Promise<{ first: Partial<ReconcileReport>; second: Partial<ReconcileReport> }> {
  const a = await cli(["reconcile", "--json"], env);
  const b = await cli(["reconcile", "--json"], env);
  return { first: JSON.parse(a.stdout || "{}"), second: JSON.parse(b.stdout || "{}") };
}

afterAll(async () => {
  await purgeHome(home);
});

describe("crash mid-operation", () => {
  it(`${KILLS} kills leave every instance complete or gone, and reconcile consistent`, async () => {
    const src = await cli(["create", "src", "--moodle", "fixture", "--json"], env);
    expect(src.code, src.stderr).toBe(0);
    const results: KillResult[] = [];
    let i = 0;
    let attempts = 0;
    while (results.length < KILLS && attempts < KILLS * 4) {
      attempts++;
      const op = PLAN[i % PLAN.length];
      const name = `k${i + 1}`;
      let args: string[];
      if (op === "delete") {
        const made = await cli(["create", name, "--moodle", "fixture", "--no-install", "--json"], env);
        expect(made.code, made.stderr).toBe(0);
        args = ["remove", name, "--yes"];
      } else if (op === "clone") args = ["clone", "src", name];
      else if (op === "template") args = ["create", name, "--moodle", "fixture", "--json"];
      else args = ["create", name, "--moodle", "fixture", "--no-install", "--json"];
      // Deletes print few lines; creates and clones a dozen or more.
      const k = 1 + rand(op === "delete" ? 2 : 10);
      const run = await runAndKill(args, k);
      if (!run.killed) {
        // It finished before the kill landed: clean it up and try that op again.
        await cli(["remove", name, "--yes"], env);
        continue;
      }
      const rec = await reconcileTwice();
      const j = await judge(name);
      const consistent = rec.second.consistent === true;
      results.push({ op, name, killedAt: run.at, outcome: consistent ? j.outcome : "broken", why: consistent ? j.why : `second reconcile: ${JSON.stringify(rec.second)}` });
      i++;
    }
    // The clone source survived every kill next to it.
    const srcView = JSON.parse((await cli(["info", "src", "--json"], env)).stdout) as { port: number; status: string };
    const srcOk = srcView.status === "running" && (await siteStatus(srcView.port)) === 200;

    for (const r of results) if (r.outcome === "complete") await cli(["remove", r.name, "--yes"], env);
    await cli(["remove", "src", "--yes"], env);
    await sleep(200);
    const final = await reconcileTwice();
    const inv = await inventory(home);

    const consistent = results.filter((r) => r.outcome !== "broken").length;
    const byOp = PLAN.map((op) => `${op} ${results.filter((r) => r.op === op).length}`).join(", ");
    summary(`crash: ${results.length} kills (${byOp}; seed ${seed}), ${consistent} consistent, ` +
      `${results.filter((r) => r.outcome === "complete").length} complete / ${results.filter((r) => r.outcome === "gone").length} rolled back`);
    for (const r of results) process.stdout.write(`  ${r.op} ${r.name} killed after "${r.killedAt}": ${r.outcome}${r.why ? ` (${r.why})` : ""}\n`);
    expect(results.length).toBe(KILLS);
    expect(results.filter((r) => r.outcome === "broken")).toEqual([]);
    expect(srcOk).toBe(true);
    expect(final.second.consistent).toBe(true);
    expect(inv.containers).toEqual([]);
    expect(inv.folders).toEqual([]);
  });
});
