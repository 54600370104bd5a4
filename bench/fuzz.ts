/**
 * Longer fuzzing run of the parser properties in tests/unit/fuzz-*.test.ts.
 *   npx tsx bench/fuzz.ts                 50 000 runs per property
 *   MDIND_FUZZ_RUNS=200000 MDIND_FUZZ_SEED=42 npx tsx bench/fuzz.ts
 * Standalone: it runs the same vitest files with a bigger numRuns and prints one line per property.
 */
import { spawnSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const runs = process.env.MDIND_FUZZ_RUNS ?? "50000";
const started = Date.now();
const r = spawnSync("npx", ["vitest", "run", "--project", "unit", "tests/unit/fuzz-", "--reporter=verbose"], {
  cwd: root,
  stdio: "inherit",
  env: { ...process.env, MDIND_FUZZ_RUNS: runs },
});
process.stdout.write(`fuzz: ${runs} runs per property in ${((Date.now() - started) / 1000).toFixed(0)} s, ${r.status === 0 ? "0 counterexamples" : "FAILED (counterexample above)"}\n`);
process.exit(r.status ?? 1);
