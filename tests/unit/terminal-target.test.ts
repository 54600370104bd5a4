import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { clampSize, hostShellPolicy, MAX_COLS, MAX_ROWS, parseTerminalQuery } from "../../services/terminal/target";
import { REAPER_SCRIPT, MARKER_RE, newMarker } from "../../services/terminal/reaper";
import { ValidationError } from "../../lib/errors";

const q = (s: string) => parseTerminalQuery(new URLSearchParams(s));

describe("terminal target validator", () => {
  it("accepts a container target with sizes", () => {
    expect(q("instance=demo&service=app&cols=120&rows=40")).toEqual({
      target: { kind: "container", instance: "demo", service: "app" },
      cols: 120,
      rows: 40,
      session: undefined,
    });
  });

  it("accepts the host target and a session id", () => {
    const r = q("target=host&session=AAAAAAAAAAAAAAAAAAAAAA");
    expect(r.target).toEqual({ kind: "host" });
    expect(r.session).toBe("AAAAAAAAAAAAAAAAAAAAAA");
    expect(r.cols).toBe(80);
    expect(r.rows).toBe(24);
  });

  const hostile: [string, string][] = [
    ["path traversal in instance", "instance=../etc&service=app"],
    ["encoded traversal", "instance=%2e%2e%2f&service=app"],
    ["slash in instance", "instance=demo/x&service=app"],
    ["semicolon in service", "instance=demo&service=app;id"],
    ["command substitution in service", "instance=demo&service=$(id)"],
    ["backticks in service", "instance=demo&service=`id`"],
    ["pipe in instance", "instance=demo|id&service=app"],
    ["newline in instance", "instance=demo%0aid&service=app"],
    ["space in service", "instance=demo&service=app%20db"],
    ["unknown service", "instance=demo&service=shell"],
    ["upper case service", "instance=demo&service=APP"],
    ["missing service", "instance=demo"],
    ["missing target", ""],
    ["host with an instance", "target=host&instance=demo"],
    ["other target", "target=root"],
    ["unknown parameter", "instance=demo&service=app&cmd=id"],
    ["repeated service", "instance=demo&service=app&service=db"],
    ["cols too big", "instance=demo&service=app&cols=501"],
    ["rows too big", "instance=demo&service=app&rows=201"],
    ["cols huge", "instance=demo&service=app&cols=99999999999"],
    ["cols zero", "instance=demo&service=app&cols=0"],
    ["cols negative", "instance=demo&service=app&cols=-5"],
    ["cols fractional", "instance=demo&service=app&cols=80.5"],
    ["cols hex", "instance=demo&service=app&cols=0x50"],
    ["cols with a command", "instance=demo&service=app&cols=80;id"],
    ["session not an id", "instance=demo&service=app&session=../../x"],
    ["session too long", `instance=demo&service=app&session=${"A".repeat(23)}`],
    ["name too long", `instance=${"a".repeat(40)}&service=app`],
    ["name with a dot", "instance=demo.x&service=app"],
  ];
  for (const [what, query] of hostile) {
    it(`refuses ${what}`, () => {
      expect(() => q(query)).toThrow(ValidationError);
    });
  }

  it("accepts the largest sizes and refuses one more", () => {
    expect(q(`instance=demo&service=db&cols=${MAX_COLS}&rows=${MAX_ROWS}`).cols).toBe(MAX_COLS);
    expect(() => q(`instance=demo&service=db&cols=${MAX_COLS + 1}`)).toThrow(/cols/);
    expect(() => q(`instance=demo&service=db&rows=${MAX_ROWS + 1}`)).toThrow(/rows/);
  });

  it("never accepts a service outside the allowlist or a name with shell metacharacters (property)", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 40 }), fc.string({ maxLength: 12 }), (instance, service) => {
        const params = new URLSearchParams({ instance, service });
        let ok = true;
        let r;
        try {
          r = parseTerminalQuery(params);
        } catch (e) {
          ok = false;
          expect(e).toBeInstanceOf(ValidationError);
        }
        if (ok && r && r.target.kind === "container") {
          expect(["db", "app", "web", "cron"]).toContain(r.target.service);
          expect(r.target.instance).toMatch(/^[a-z][a-z0-9-]*[a-z0-9]$/);
        }
      }),
      { numRuns: 500 },
    );
  });

  it("clamps resize messages instead of refusing them", () => {
    expect(clampSize(10_000, 10_000)).toEqual({ cols: MAX_COLS, rows: MAX_ROWS });
    expect(clampSize(-3, 0)).toEqual({ cols: 1, rows: 1 });
    expect(clampSize(80.9, 24.2)).toEqual({ cols: 80, rows: 24 });
    expect(clampSize("80", 24)).toBeNull();
    expect(clampSize(Number.NaN, 24)).toBeNull();
    expect(clampSize(Number.POSITIVE_INFINITY, 24)).toBeNull();
  });

  it("keeps the host shell off unless asked for or inside the DinD host", () => {
    const saved = { a: process.env.MDIND_HOST_SHELL, b: process.env.MDIND_IN_HOST };
    try {
      delete process.env.MDIND_HOST_SHELL;
      delete process.env.MDIND_IN_HOST;
      expect(hostShellPolicy().enabled).toBe(false);
      process.env.MDIND_HOST_SHELL = "true";
      expect(hostShellPolicy().enabled).toBe(false);
      process.env.MDIND_HOST_SHELL = "1";
      expect(hostShellPolicy().enabled).toBe(true);
      delete process.env.MDIND_HOST_SHELL;
      process.env.MDIND_IN_HOST = "1";
      expect(hostShellPolicy().enabled).toBe(true);
    } finally {
      for (const [k, v] of [["MDIND_HOST_SHELL", saved.a], ["MDIND_IN_HOST", saved.b]] as const) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});

describe("terminal reaper script", () => {
  it("takes the marker as an argument, never as script text", () => {
    const m = newMarker();
    expect(m).toMatch(MARKER_RE);
    expect(REAPER_SCRIPT).not.toContain(m);
    // The script refuses anything that is not a marker before using it.
    expect(REAPER_SCRIPT).toMatch(/case "\$1" in \*\[!a-f0-9\]\*/);
  });
});
