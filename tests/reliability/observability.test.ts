import fs from "node:fs";
import { spawnSync } from "node:child_process";
import { describe, expect, inject, it } from "vitest";
import { request, summary } from "./helpers";

/**
 * Scenario 8: observability of the running dashboard. Its own log lines are JSON (one object per
 * line with ts and event); /api/v1/health reports engine, disk and supervisor programs (null where
 * there is no supervisorctl, as outside the DinD host); /api/v1/metrics speaks the Prometheus text
 * format with instances by state, operation and step durations and image build times.
 */
const rel = inject("rel");
const auth = { authorization: `Bearer ${rel.token}` };

function sample(text: string, name: string, labels: Record<string, string> = {}): number | null {
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    const want = Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`));
    if (want) return Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return null;
}

describe("observability", () => {
  it("structured logs, health details and Prometheus metrics", async () => {
    // Logs: every line the server itself writes is one JSON object with ts and event.
    const lines = fs.readFileSync(rel.logFile, "utf8").split("\n").filter((l) => l.startsWith("{"));
    const parsed = lines.map((l) => {
      try {
        return JSON.parse(l) as { ts?: string; event?: string };
      } catch {
        return null;
      }
    });
    const bad = parsed.filter((p) => !p || typeof p.ts !== "string" || typeof p.event !== "string" || Number.isNaN(Date.parse(p.ts)));
    const events = new Set(parsed.map((p) => p?.event));
    expect(bad).toEqual([]);
    for (const e of ["listening", "engine_ok", "reconcile"]) expect(events.has(e)).toBe(true);

    // Health: public probe says only ok; with a token it has engine, disk and supervisor.
    const anon = await request(rel.base, "GET", "/api/v1/health");
    expect(anon.status).toBe(200);
    expect(Object.keys(anon.json)).toEqual(["ok"]);
    const h = await request(rel.base, "GET", "/api/v1/health", undefined, auth);
    expect(h.json.engine.ok).toBe(true);
    expect(typeof h.json.disk.freeBytes).toBe("number");
    const hasSupervisor = spawnSync("sh", ["-c", "command -v supervisorctl"]).status === 0;
    if (hasSupervisor) expect(Array.isArray(h.json.supervisor)).toBe(true);
    else expect(h.json.supervisor).toBeNull();

    // Metrics: a restart of one service is counted, the exposition parses line by line.
    expect((await request(rel.base, "GET", "/api/v1/metrics")).status).toBe(401);
    const m0 = await request(rel.base, "GET", "/api/v1/metrics", undefined, auth);
    expect(m0.status).toBe(200);
    expect(m0.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const restarts0 = sample(m0.text, "mdind_operation_duration_seconds_count", { op: "restart", outcome: "ok" }) ?? 0;
    const act = await request(rel.base, "POST", `/api/v1/instances/${rel.shared[1]}/actions/restart?wait=1`, { services: ["web"] }, auth);
    expect(act.status).toBe(200);
    // Instance states come from the docker-events cache, which settles a moment after the restart.
    let m = "";
    for (let i = 0; i < 30; i++) {
      m = (await request(rel.base, "GET", "/api/v1/metrics", undefined, auth)).text;
      if ((sample(m, "mdind_instances", { state: "running" }) ?? 0) >= rel.shared.length) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
    const malformed = m.split("\n").filter((l) => l && !l.startsWith("# ") && !/^[a-z_:][a-z0-9_:]*(\{([a-z_]+="([^"\\]|\\.)*",?)*\})? -?[0-9.e+]+$/i.test(l));
    expect(malformed).toEqual([]);
    const running = sample(m, "mdind_instances", { state: "running" }) ?? 0;
    const creates = sample(m, "mdind_operation_duration_seconds_count", { op: "create", outcome: "ok" }) ?? 0;
    const createSum = sample(m, "mdind_operation_duration_seconds_sum", { op: "create", outcome: "ok" }) ?? 0;
    const restarts = sample(m, "mdind_operation_duration_seconds_count", { op: "restart", outcome: "ok" }) ?? 0;
    const builds = sample(m, "mdind_image_build_seconds_count", { via: "create" }) ?? 0;
    const steps = m.split("\n").filter((l) => l.startsWith("mdind_operation_step_duration_seconds_count")).length;
    expect(running).toBeGreaterThanOrEqual(rel.shared.length);
    expect(creates).toBeGreaterThanOrEqual(rel.shared.length);
    expect(restarts).toBe(restarts0 + 1);
    expect(builds).toBeGreaterThanOrEqual(rel.shared.length);
    expect(m).toContain("# TYPE mdind_preload_files gauge");
    expect(steps).toBeGreaterThan(5);
    summary(`observability: ${lines.length} JSON log lines (0 malformed), health engine+disk+supervisor(${hasSupervisor ? "listed" : "n/a here"}), ` +
      `metrics: ${running} running, ${creates} creates (mean ${(createSum / Math.max(1, creates)).toFixed(1)} s), ${steps} step series, restart counted`);
  });
});
