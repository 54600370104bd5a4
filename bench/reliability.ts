/**
 * The full reliability suite (the CI phase runs a trimmed version):
 *   npx tsx bench/reliability.ts
 * 20 concurrent creates, 12 crash kills, both port pool instances, the subnet pool filled for real,
 * and the whole hostile table. MDIND_RELIABILITY_SEED replays a crash run. Prints the summary table
 * (tests/reliability/setup.ts) and exits non-zero when a scenario fails.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const started = Date.now();
const r = spawnSync("npx", ["vitest", "run", "--project", "reliability", ...process.argv.slice(2)], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, MDIND_RELIABILITY_PROFILE: "full", MDIND_NO_PULL: process.env.MDIND_NO_PULL ?? "1" },
});
process.stdout.write(`reliability (full): ${((Date.now() - started) / 60000).toFixed(1)} min, ${r.status === 0 ? "passed" : "FAILED"}\n`);
process.exit(r.status ?? 1);
