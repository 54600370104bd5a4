import { describe, expect, it } from "vitest";
import { phpIni, type RenderContext } from "../../instances/render";
import { containerSpecs, CRON_OPCACHE_ENV, SERVICES } from "../../instances/stack";
import { healthOf, HEALTH_PROMISE_MS, START_GRACE_S, upSeconds, WATCH_INTERVAL_MS } from "../../instances/health";
import { parseCreateInput, resolveSpec } from "../../instances/spec";

/**
 * Issue #18 items 4 and 5: an idle instance runs no process on a timer but its cron. No engine
 * health check (each is a `docker exec`, and an image's own HEALTHCHECK runs unless overridden);
 * health comes from socket probes (instances/health.ts); cron's PHP reads Moodle from OPcache's
 * file cache, which only the cron container turns on.
 */
const spec = (input: Record<string, unknown> = {}) => resolveSpec(parseCreateInput({ name: "site-a", moodle: "5.1", php: "8.2", ...input }), "5.1");

describe("idle cost of a rendered stack", () => {
  for (const db of ["postgres:15", "mariadb:10.11"]) {
    it(`runs no engine health check in any container (${db})`, () => {
      const specs = containerSpecs({ spec: spec({ db }), n: 7, port: 8007 });
      for (const s of SERVICES) {
        // ["NONE"] disables the image's HEALTHCHECK too; an absent Healthcheck would inherit it.
        expect(specs[s].Healthcheck, s).toEqual({ Test: ["NONE"] });
      }
    });
  }

  it("gives the cron container, and only it, OPcache's file cache", () => {
    const specs = containerSpecs({ spec: spec(), n: 7, port: 8007 });
    for (const e of CRON_OPCACHE_ENV) expect(specs.cron.Env).toContain(e);
    expect(specs.cron.Cmd).toEqual(["cron"]);
    for (const s of ["db", "app", "web"] as const) expect((specs[s].Env ?? []).join(" ")).not.toMatch(/MDIND_CLI_OPCACHE/);
    const ctx: RenderContext = { spec: spec(), port: 8007, n: 7, publicHost: "127.0.0.1", publicDir: true, dbPassword: "pw", smtpHost: "x:1025" };
    const ini = phpIni(ctx);
    // PHP expands ${VAR} in ini values; unset (php-fpm) it reads empty, i.e. off.
    expect(ini).toMatch(/^opcache\.enable_cli = \$\{MDIND_CLI_OPCACHE\}$/m);
    expect(ini).toMatch(/^opcache\.file_cache = \$\{MDIND_CLI_OPCACHE_DIR\}$/m);
    expect(ini).toMatch(/^opcache\.file_cache_only = \$\{MDIND_CLI_OPCACHE\}$/m);
    expect(ini).not.toMatch(/^opcache\.enable_cli = [01]/m);
  });

  it("spreads cron over the minute by network number", () => {
    const offsets = [1, 2, 3, 4, 5].map((n) => containerSpecs({ spec: spec(), n, port: 8000 + n }).cron.Env?.find((e) => e.startsWith("CRON_OFFSET=")));
    expect(new Set(offsets).size).toBe(5);
  });
});

describe("probed health", () => {
  it("reads the engine's uptime", () => {
    expect(upSeconds("Up Less than a second")).toBe(0);
    expect(upSeconds("Up 5 seconds")).toBe(5);
    expect(upSeconds("Up About a minute")).toBe(60);
    expect(upSeconds("Up 3 minutes (healthy)")).toBe(180);
    expect(upSeconds("Up 2 hours")).toBe(7200);
    expect(upSeconds("Exited (0) 3 minutes ago")).toBeNull();
    expect(upSeconds("Up 1 second; rm -rf /")).toBe(1);
  });
  it("is starting only in the grace period, then unhealthy", () => {
    expect(healthOf(true, "Up 1 second")).toBe("healthy");
    expect(healthOf(false, "Up 1 second")).toBe("starting");
    expect(healthOf(false, `Up ${START_GRACE_S - 1} seconds`)).toBe("starting");
    expect(healthOf(false, `Up ${START_GRACE_S} seconds`)).toBe("unhealthy");
    expect(healthOf(false, "Up 2 hours")).toBe("unhealthy");
    expect(healthOf(false, "garbage")).toBe("unhealthy");
  });
  it("promises a change within one watch interval and a probe timeout, faster than the old checks", () => {
    // The engine checks were every 30 s with 3 retries: up to ~2 min to show unhealthy.
    expect(HEALTH_PROMISE_MS).toBeLessThan(30_000);
    expect(HEALTH_PROMISE_MS).toBeGreaterThan(WATCH_INTERVAL_MS);
  });
});
