// Sums the JSON reports of vitest and Playwright into one closing line: "N passed, N failed".
// A phase whose report is missing (it crashed before reporting) counts as a failure.
// Failed tests are named at the end, because CI keeps only the tail of the output.
import fs from "node:fs";
import path from "node:path";

const dir = process.argv[2];
let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];

function playwrightFailures(suite, trail) {
  const here = suite.title ? [...trail, suite.title] : trail;
  for (const spec of suite.specs ?? []) {
    const bad = (spec.tests ?? []).some((t) => t.status === "unexpected" || t.status === "flaky");
    if (bad) failures.push(`e2e: ${[...here, spec.title].join(" › ")}`);
  }
  for (const s of suite.suites ?? []) playwrightFailures(s, here);
}

for (const f of fs.readdirSync(dir).filter((x) => x.endsWith(".json"))) {
  const phase = f.replace(".json", "");
  const r = JSON.parse(fs.readFileSync(path.join(dir, f), "utf8"));
  if (typeof r.numPassedTests === "number") {
    passed += r.numPassedTests;
    failed += r.numFailedTests;
    skipped += (r.numPendingTests ?? 0) + (r.numTodoTests ?? 0);
    // A file that failed to load has no failed tests but a failed suite.
    if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) failed += r.numFailedTestSuites;
    for (const file of r.testResults ?? []) {
      const rel = path.relative(process.cwd(), file.name ?? "");
      const bad = (file.assertionResults ?? []).filter((a) => a.status === "failed");
      for (const a of bad) {
        const why = (a.failureMessages?.[0] ?? "").split("\n")[0].slice(0, 300);
        failures.push(`${phase}: ${rel} › ${a.fullName ?? a.title}${why ? `\n    ${why}` : ""}`);
      }
      if (bad.length === 0 && file.status === "failed") {
        failures.push(`${phase}: ${rel} (suite failed: ${(file.message ?? "").split("\n")[0].slice(0, 300)})`);
      }
    }
    console.log(`${phase}: ${r.numPassedTests} passed, ${r.numFailedTests} failed`);
  } else if (r.stats) {
    passed += r.stats.expected ?? 0;
    failed += (r.stats.unexpected ?? 0) + (r.stats.flaky ?? 0);
    skipped += r.stats.skipped ?? 0;
    for (const s of r.suites ?? []) playwrightFailures(s, []);
    console.log(`${phase}: ${r.stats.expected} passed, ${r.stats.unexpected} failed`);
  }
}
if (failures.length > 0) console.log(`failed:\n  ${failures.join("\n  ")}`);
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`);
process.exit(failed > 0 ? 1 : 0);
