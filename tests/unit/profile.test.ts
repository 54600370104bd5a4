import { describe, expect, it } from "vitest";
import { applyProfile, parseProfile } from "../../instances/profile";
import { phpIni, type RenderContext } from "../../instances/render";
import { parseCreateInput, resolveSpec } from "../../instances/spec";

const ctx = (profile: "dev" | "prod"): RenderContext => ({
  spec: resolveSpec(parseCreateInput({ name: "demo", moodle: "fixture", profile }), "fixture"),
  port: 8000, n: 1, publicHost: "127.0.0.1", publicDir: true, dbPassword: "x", smtpHost: "h:1025",
});

describe("profile switch", () => {
  it("turns a dev php.ini into exactly the prod rendering and back", () => {
    expect(applyProfile(phpIni(ctx("dev")), "prod")).toBe(phpIni(ctx("prod")));
    expect(applyProfile(phpIni(ctx("prod")), "dev")).toBe(phpIni(ctx("dev")));
  });

  it("keeps the user's other edits and commented lines, and re-adds a deleted key", () => {
    const edited = `memory_limit = 1G\n;opcache.validate_timestamps = 1\nopcache.validate_timestamps=1\nupload_max_filesize = 2G\n`;
    const out = applyProfile(edited, "prod");
    expect(out).toBe(`memory_limit = 1G\n;opcache.validate_timestamps = 1\nopcache.validate_timestamps = 0\nupload_max_filesize = 2G\ndisplay_errors = Off\n`);
    expect(applyProfile(out, "prod")).toBe(out);
  });

  it("refuses anything but dev and prod", () => {
    expect(parseProfile("dev")).toBe("dev");
    for (const bad of ["", "Prod", "debug", 1, null]) expect(() => parseProfile(bad)).toThrow(/dev or prod/);
  });
});
