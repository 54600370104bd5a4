import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { afterAll, describe, expect, it } from "vitest";
import { bashCompletion, zshCompletion } from "../../edge/cli/completion";
import { OPTIONS, VERBS, verbOptions } from "../../edge/cli/verbs";

/**
 * Bash completion for real: the script the binary prints is sourced in bash, COMP_WORDS is set as
 * bash sets it, and COMPREPLY is read back. Instance names come from `list --names` on a temp
 * MDIND_HOME, including a record whose name is a command substitution that must never run.
 */
const ROOT = path.resolve(__dirname, "..", "..");
const home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-compl-"));
const pwned = path.join(home, "pwned");
for (const [dir, name] of [["alpha-one", "alpha-one"], ["alpha-two", "alpha-two"], ["beta", "beta"], ["evil", `$(touch ${pwned})`]]) {
  fs.mkdirSync(path.join(home, "instances", dir), { recursive: true });
  fs.writeFileSync(path.join(home, "instances", dir, "instance.json"), JSON.stringify({ name }));
}
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

const sq = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** Each case: the words on the line (the last is the one being completed) → COMPREPLY. */
function complete(cases: string[][]): string[][] {
  const script = [
    `source <(${sq(process.execPath)} bin/moodle-dind.mjs completion bash)`,
    `t() { COMP_WORDS=("$@"); COMP_CWORD=$(( \${#COMP_WORDS[@]} - 1 )); COMPREPLY=(); _moodle_dind; local IFS=,; echo "[\${COMPREPLY[*]}]"; }`,
    ...cases.map((c) => `t moodle-dind ${c.map(sq).join(" ")}`),
  ].join("\n");
  const r = spawnSync("bash", ["-c", script], { cwd: ROOT, encoding: "utf8", env: { ...process.env, MDIND_HOME: home, MOODLE_DIND_URL: "" } });
  expect(r.status, r.stderr).toBe(0);
  const lines = r.stdout.trim().split("\n");
  expect(lines.length, r.stdout + r.stderr).toBe(cases.length);
  return lines.map((l) => (l === "[]" ? [] : l.slice(1, -1).split(",")));
}

describe("bash and zsh completion", () => {
  it("completes verbs, a verb's options, option values, sub-commands and instance names in bash", () => {
    const [verbs, all, createOpts, php, web, snapSubs, snapName, startName, phpVer, file, help, after, valueSkip, remoteFlag] = complete([
      ["s"],
      [""],
      ["create", "x", "--p"],
      ["create", "x", "--php", ""],
      ["create", "x", "--web-version", "2"],
      ["snapshot", ""],
      ["snapshot", "restore", "al"],
      ["start", ""],
      ["php", "alpha-one", "8"],
      ["import", "packag"],
      ["help", "up"],
      ["start", "alpha-one", ""],
      ["logs", "--service", "web", "a"],
      ["list", "--n"],
    ]);
    expect(verbs).toEqual(["start", "stop", "snapshot"]);
    expect(all).toEqual(VERBS.map((v) => v.name));
    expect(createOpts).toEqual(["--php", "--profile"]);
    expect(php).toEqual([...OPTIONS.php.values]);
    expect(web).toEqual(["2.4"]);
    expect(snapSubs).toEqual(["create", "list", "restore"]);
    expect(snapName).toEqual(["alpha-one", "alpha-two"]);
    expect(startName).toEqual(["alpha-one", "alpha-two", "beta"]);
    expect(phpVer).toEqual(OPTIONS.php.values.filter((v) => v.startsWith("8")));
    expect(file).toEqual(["package.json", "package-lock.json"].sort());
    expect(help).toEqual(["upgrade", "up"]);
    expect(after).toEqual([]);
    expect(valueSkip).toEqual(["alpha-one", "alpha-two"]);
    expect(remoteFlag).toEqual(["--names"]);
    // The hostile record's name was neither run nor offered.
    expect(fs.existsSync(pwned)).toBe(false);
  }, 120_000);

  it("`list --names` prints the registry's names one a line without the engine", () => {
    const r = spawnSync(process.execPath, ["bin/moodle-dind.mjs", "list", "--names"], { cwd: ROOT, encoding: "utf8", env: { ...process.env, MDIND_HOME: home, MOODLE_DIND_URL: "" } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split("\n").filter(Boolean).slice(0, 3)).toEqual(["alpha-one", "alpha-two", "beta"]);
  }, 60_000);

  const zshBin = spawnSync("sh", ["-c", "command -v zsh"], { encoding: "utf8" }).stdout.trim();
  // zsh is not in every image (Debian's zsh package); where it is, the zsh script runs for real,
  // with compadd/compdef/_files stubbed since no completion widget is active in `zsh -c`.
  it.runIf(zshBin)("completes the same in zsh (1-based words, CURRENT)", () => {
    const script = [
      "compdef() { :; }",
      'compadd() { shift; print -r -- "[${(j:,:)@}]"; }',
      '_files() { print -r -- "[_files]"; }',
      `source <(${sq(process.execPath)} bin/moodle-dind.mjs completion zsh)`,
      "t() { words=(\"$@\"); CURRENT=${#words}; _moodle_dind; }",
      "t moodle-dind s",
      "t moodle-dind create x --p",
      "t moodle-dind snapshot restore al",
      "t moodle-dind logs --service web ''",
      "t moodle-dind import pack",
    ].join("\n");
    const r = spawnSync(zshBin, ["-c", script], { cwd: ROOT, encoding: "utf8", env: { ...process.env, MDIND_HOME: home, MOODLE_DIND_URL: "" } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim().split("\n")).toEqual(["[start,stop,snapshot]", "[--php,--profile]", "[alpha-one,alpha-two]", "[alpha-one,alpha-two,beta]", "[_files]"]);
    expect(fs.existsSync(pwned)).toBe(false);
  }, 120_000);

  it("the scripts cover every verb and option of the table; bash parses the bash one, zsh registers with compdef", () => {
    const bash = bashCompletion();
    const zsh = zshCompletion();
    for (const s of [bash, zsh]) {
      for (const v of VERBS) {
        expect(s).toContain(`'${v.name}')`);
        for (const o of verbOptions(v)) expect(s).toContain(`'--${o}'`);
      }
      expect(s).not.toContain("compgen -W");
    }
    expect(spawnSync("bash", ["-n"], { input: bash }).status).toBe(0);
    expect(bash).toContain("complete -F _moodle_dind moodle-dind");
    expect(zsh.startsWith("#compdef moodle-dind")).toBe(true);
    expect(zsh).toContain("compdef _moodle_dind moodle-dind");
    if (zshBin) expect(spawnSync(zshBin, ["-n"], { input: zsh }).status).toBe(0);
  });
});
