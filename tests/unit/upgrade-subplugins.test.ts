import { describe, expect, it } from "vitest";
import { subpluginDirs } from "../../instances/upgrade/subplugins";

/** db/subplugins.json may be the site's own file: only plain folders inside the plugin count. */
describe("subpluginDirs", () => {
  it("reads Moodle's two spellings, relative to the plugin (5.1) or to the web root", () => {
    const both = JSON.stringify({ subplugintypes: { assignsubmission: "submission" }, plugintypes: { assignsubmission: "mod/assign/submission" } });
    expect(subpluginDirs(both, "public/mod/assign", true)).toEqual({ assignsubmission: "public/mod/assign/submission" });
    const old = JSON.stringify({ plugintypes: { assignsubmission: "mod/assign/submission", assignfeedback: "mod/assign/feedback" } });
    expect(subpluginDirs(old, "mod/assign", false)).toEqual({ assignsubmission: "mod/assign/submission", assignfeedback: "mod/assign/feedback" });
    expect(subpluginDirs(old, "public/mod/assign", true)).toEqual({ assignsubmission: "public/mod/assign/submission", assignfeedback: "public/mod/assign/feedback" });
  });

  it("ignores folders outside the plugin, traversal, absolute paths, odd types and broken JSON", () => {
    const hostile = JSON.stringify({
      plugintypes: {
        a: "../../etc", b: "/etc", c: "mod/other/sub", d: "mod/foo/../../x", e: "mod/foo/ok",
        "BAD-TYPE": "mod/foo/x", f: ["mod/foo/y"], g: "mod/foo/sub dir", h: "mod/foo\u0000/z",
      },
    });
    expect(subpluginDirs(hostile, "mod/foo", false)).toEqual({ e: "mod/foo/ok" });
    expect(subpluginDirs(JSON.stringify({ subplugintypes: { a: "..", b: "../bar", c: "/abs", d: "ok" } }), "mod/foo", false)).toEqual({ d: "mod/foo/ok" });
    for (const text of ["", "{", "null", "[]", "42", '"x"', JSON.stringify({ plugintypes: null }), '{"plugintypes": {"__proto__": "mod/foo/x"}}']) {
      expect(subpluginDirs(text, "mod/foo", false)).toEqual({});
    }
    // A prefix that only looks like the plugin's folder is not inside it.
    expect(subpluginDirs(JSON.stringify({ plugintypes: { a: "mod/foobar/x" } }), "mod/foo", false)).toEqual({});
  });
});
