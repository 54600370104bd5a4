import { GLOBAL_OPTIONS, OPTIONS, VERBS, optionLabel, type OptName, type VerbSpec } from "./verbs";

/** Help text, printed from the verb table (verbs.ts) so it always matches what is parsed. */

const column = (rows: [string, string][], indent = "  ") => {
  const w = Math.min(Math.max(...rows.map(([l]) => l.length)) + 2, 34);
  return rows.map(([l, d]) => (l.length + 2 > w ? `${indent}${l}\n${indent}${" ".repeat(w)}${d}` : `${indent}${l.padEnd(w)}${d}`)).join("\n");
};

export function globalUsage(): string {
  return [
    "usage: moodle-dind <command> [options]",
    "",
    ...VERBS.flatMap((v) => v.usage.map((u) => `  ${u}`)),
    "",
    "remote: --url URL (or MOODLE_DIND_URL) and --token T (or MOODLE_DIND_TOKEN) drive a host's REST API",
    "`moodle-dind <command> --help` shows a command's options and an example.",
    "",
  ].join("\n");
}

export function verbHelp(v: VerbSpec): string {
  const own = v.options.filter((o) => !GLOBAL_OPTIONS.includes(o));
  const opt = (o: OptName): [string, string] => [optionLabel(o), OPTIONS[o].desc];
  return [
    ...v.usage.map((u, i) => `${i === 0 ? "usage:" : "      "} moodle-dind ${u}`),
    "",
    v.summary,
    "",
    ...(own.length ? ["options:", column(own.map(opt)), ""] : []),
    v.localOnly ? `This machine only: ${v.localOnly}.` : "remote:",
    ...(v.localOnly ? [] : [column(GLOBAL_OPTIONS.filter((o) => o !== "help").map(opt))]),
    "",
    v.examples.length > 1 ? "examples:" : "example:",
    ...v.examples.map((e) => `  ${e}`),
    "",
  ].join("\n");
}
