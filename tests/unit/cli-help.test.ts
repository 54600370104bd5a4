import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { afterEach, describe, expect, it, vi } from "vitest";
import { main } from "../../edge/cli/main";
import { UsageError } from "../../edge/cli/exit";
import { GLOBAL_OPTIONS, OPTIONS, VERBS } from "../../edge/cli/verbs";
import { globalUsage, verbHelp } from "../../edge/cli/help";

/** Per-verb help, parsing and the verb table agree (edge/cli/verbs.ts is the one source). */
const ROOT = path.resolve(__dirname, "..", "..");

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  let out = "";
  const spy = vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  try {
    return { code: await main(argv), out };
  } finally {
    spy.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe("CLI help from the verb table", () => {
  it("`VERB --help` prints that verb's own usage, options and example, not the global text", async () => {
    const global = globalUsage();
    for (const v of VERBS.filter((x) => !x.delegated)) {
      const { code, out } = await run([v.name, "--help"]);
      expect(code, v.name).toBe(0);
      expect(out, v.name).toBe(verbHelp(v));
      expect(out, v.name).not.toBe(global);
      expect(out.startsWith(`usage: moodle-dind ${v.name}`), v.name).toBe(true);
      expect(out, v.name).toMatch(new RegExp(`examples?:\\n  (moodle-dind ${v.name}|source <\\(moodle-dind ${v.name})`));
      for (const o of v.options) expect(out, `${v.name} --${o}`).toContain(`--${o}`);
      expect((await run(["help", v.name])).out).toBe(out);
    }
  });

  it("the global usage names every verb, and an unknown verb or option is a usage error (exit 2)", async () => {
    const { code, out } = await run(["--help"]);
    expect(code).toBe(0);
    for (const v of VERBS) expect(out).toContain(`  ${v.name}`);
    await expect(main(["frobnicate"])).rejects.toThrow(UsageError);
    await expect(main(["logs", "x", "--json"])).rejects.toThrow(/logs does not take --json/);
    await expect(main(["start", "x", "--moodle", "5.1"])).rejects.toThrow(/start does not take --moodle/);
    await expect(main(["help", "nope"])).rejects.toThrow(UsageError);
  });

  it("every example in the table parses with its verb's options", async () => {
    for (const v of VERBS.filter((x) => !x.delegated)) {
      for (const ex of v.examples) {
        const m = /^(?:source <\()?moodle-dind (.*?)\)?$/.exec(ex);
        expect(m, ex).toBeTruthy();
        const argv = m![1].split(" ");
        const dd = argv.indexOf("--");
        const { code } = await run([...(dd >= 0 ? argv.slice(0, dd) : argv), "--help"]);
        expect(code, ex).toBe(0);
      }
    }
  });

  it("every option main.ts reads is in the table and listed by a verb; every listed option is documented", () => {
    const src = fs.readFileSync(path.join(ROOT, "edge", "cli", "main.ts"), "utf8");
    const read = new Set([...src.matchAll(/values(?:\.([a-z]+)|\["([a-z-]+)"\])/g)].map((m) => m[1] ?? m[2]));
    const listed = new Set([...VERBS.flatMap((v) => v.options), ...GLOBAL_OPTIONS]);
    expect(read.size).toBeGreaterThan(20);
    for (const o of read) {
      expect(Object.keys(OPTIONS), o).toContain(o);
      expect(listed.has(o as keyof typeof OPTIONS), o).toBe(true);
    }
    for (const o of listed) expect(OPTIONS[o].desc.length, o).toBeGreaterThan(5);
  });

  it("an alias runs as its verb: `delete` and `rm` are `remove`, with remove's help and its --yes guard", async () => {
    for (const alias of ["delete", "rm"]) {
      const help = await run([alias, "--help"]);
      expect(help.code).toBe(0);
      expect(help.out).toContain("usage: moodle-dind remove <name> --yes");
      await expect(main([alias, "demo"])).rejects.toThrow(/remove deletes the instance and its data: pass --yes/);
    }
    // An alias takes no name of its own in the table, and no verb is shadowed by another's alias.
    const names = VERBS.map((v) => v.name);
    for (const a of VERBS.flatMap((v) => v.aliases ?? [])) expect(names).not.toContain(a);
  });

  it("the real binary prints a verb's help and exits 0; a stalled main cannot exit 0", () => {
    const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "moodle-dind.mjs"), "snapshot", "--help"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("usage: moodle-dind snapshot create <name> [label]");
    const bin = fs.readFileSync(path.join(ROOT, "bin", "moodle-dind.mjs"), "utf8");
    expect(bin.indexOf("process.exitCode = 1;")).toBeGreaterThan(0);
    expect(bin.indexOf("process.exitCode = 1;")).toBeLessThan(bin.indexOf("await main("));
  });
});
