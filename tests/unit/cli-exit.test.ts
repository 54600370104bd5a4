import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { EXIT_CODES, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, exitCodeFor, UsageError } from "../../edge/cli/exit";
import { exitCodeFor as fromMain } from "../../edge/cli/main";
import { AppError, type ErrorKind } from "../../lib/errors";

/** Exit codes a script can branch on, and the README section that lists them. */
describe("CLI exit codes", () => {
  it("gives capacity failures their own code", () => {
    expect(exitCodeFor(new AppError("capacity", "the disk holding /x is full"))).toBe(6);
    expect(fromMain(new AppError("capacity", "image missing"))).toBe(6);
  });

  it("maps every kind, usage errors and the rest", () => {
    const kinds: ErrorKind[] = ["validation", "conflict", "not_found", "unauthorized", "forbidden", "engine", "command", "capacity", "internal"];
    const codes = Object.fromEntries(kinds.map((k) => [k, exitCodeFor(new AppError(k, "x"))]));
    expect(codes).toEqual({ validation: 2, conflict: 3, not_found: 4, unauthorized: 5, forbidden: 5, engine: 1, command: 1, capacity: 6, internal: 1 });
    expect(exitCodeFor(new UsageError("x"))).toBe(EXIT_USAGE);
    expect(exitCodeFor(Object.assign(new Error("x"), { code: "ERR_PARSE_ARGS_UNKNOWN_OPTION" }))).toBe(EXIT_USAGE);
    expect(exitCodeFor(new Error("x"))).toBe(EXIT_FAILURE);
  });

  it("README's Exit codes section lists every code, and no other", () => {
    const readme = fs.readFileSync(path.resolve(__dirname, "../../README.md"), "utf8");
    const section = /\n## Exit codes\n([\s\S]*?)\n## /.exec(readme)?.[1];
    expect(section).toBeTruthy();
    const documented = [...section!.matchAll(/^\| (\d+) \|/gm)].map((m) => Number(m[1])).sort((a, b) => a - b);
    const used = [...new Set([EXIT_OK, EXIT_FAILURE, EXIT_USAGE, ...Object.values(EXIT_CODES)])].sort((a, b) => a - b);
    expect(documented).toEqual(used);
  });
});
