import type { OpEvent } from "../../lib/operations";

/** Progress goes to stderr so `--json` output on stdout stays one parseable document. */
export function printProgress(quiet: boolean) {
  return (ev: OpEvent) => {
    if (quiet && ev.type === "log") return;
    const t = ev.ts.slice(11, 19);
    if (ev.type === "step") {
      const mark = ev.status === "running" ? "…" : ev.status === "done" ? "✓" : "✗";
      const dur = ev.durationMs !== undefined ? ` (${(ev.durationMs / 1000).toFixed(1)} s)` : "";
      process.stderr.write(`${t} ${mark} ${ev.step}${dur}${ev.message ? `: ${ev.message}` : ""}\n`);
    } else if (ev.type === "log") {
      process.stderr.write(`${t}   ${ev.message}\n`);
    } else if (ev.type === "error") {
      process.stderr.write(`${t} ✗ ${ev.message}\n`);
    }
  };
}
