import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { describe, expect, inject, it } from "vitest";
import { cli, docker, dockerExec, request, siteStatus, sleep, summary } from "./helpers";

/**
 * Scenario 3: restarts. Restarting the machine's own dockerd is not allowed here (other work shares
 * it), and a DinD host run needs the instance images loaded into a fresh inner engine (minutes and
 * GBs; tests/integration/dind-host.test.ts covers that host). So this measures what an engine or
 * host restart does to instances, on the local engine: every container of every instance has its main process killed
 * (as a crash would) and restarted by the engine, then every container is restarted
 * cleanly, and a fresh control-plane process (the CLI) reconciles. Each time the DB row count
 * and a moodledata file written by the app are compared with before: nothing may be lost.
 */
const rel = inject("rel");
const auth = { authorization: `Bearer ${rel.token}` };

function rowCount(name: string): number {
  const r = dockerExec(`mdind-${name}-db`, ["psql", "-U", "moodle", "-d", "moodle", "-tAc", "SELECT count(*) FROM mdl_fixture_visits"]);
  return Number.parseInt(r.out.trim(), 10);
}
const counterFile = (name: string) => path.join(rel.home, "instances", name, "data", "moodledata", "fixture-counter.txt");

async function waitBack(names: string[], maxMs = 300_000): Promise<number> {
  const started = Date.now();
  for (const name of names) {
    for (;;) {
      const v = (await request(rel.base, "GET", `/api/v1/instances/${name}`, undefined, auth)).json as { status: string; port: number; services: { health: string | null }[] };
      const healthy = v.services.every((s) => s.health === null || s.health === "healthy");
      // version.php runs through nginx and php-fpm but writes nothing (index.php would add a row).
      if (v.status === "running" && healthy && (await siteStatus(v.port, "/version.php")) === 200) break;
      if (Date.now() - started > maxMs) throw new Error(`${name} did not come back: ${JSON.stringify(v).slice(0, 300)}`);
      await sleep(1000);
    }
  }
  return (Date.now() - started) / 1000;
}

describe("restarts", () => {
  it("instances come back after a crash-style kill and a clean restart of every container, nothing lost", async () => {
    const names = rel.shared;
    const ports: number[] = [];
    for (const name of names) {
      const v = (await request(rel.base, "GET", `/api/v1/instances/${name}`, undefined, auth)).json as { port: number };
      ports.push(v.port);
      // A few visits: each adds a DB row and rewrites a moodledata file.
      for (let i = 0; i < 3; i++) expect(await siteStatus(v.port)).toBe(200);
    }
    // And a file the app itself writes into moodledata, with content only this run knows.
    const marker = `marker-${Date.now()}-${Math.random().toString(36).slice(2)}`;
    for (const n of names) {
      const w = dockerExec(`mdind-${n}-app`, ["php", "-r", `file_put_contents("/var/www/moodledata/rel-marker.txt", "${marker}");`]);
      expect(w.code, w.err).toBe(0);
    }
    const snapshot = (n: string) => ({
      rows: rowCount(n),
      file: `${fs.readFileSync(counterFile(n), "utf8")}|${fs.readFileSync(path.join(path.dirname(counterFile(n)), "rel-marker.txt"), "utf8")}`,
    });
    const before = names.map(snapshot);
    expect(before.every((b) => b.rows >= 3 && b.file.endsWith(marker))).toBe(true);

    const containers = (await docker.listContainers({ all: true })).filter((c) => names.includes(c.Labels["org.moodle-dind.instance"] ?? "") && c.Labels["org.moodle-dind.home"]);
    expect(containers).toHaveLength(4 * names.length);

    // 1. Crash: SIGKILL every container's main process from outside (as an OOM kill or a crash would;
    // `docker kill` would count as a manual stop and bypass the restart policy). The engine's
    // unless-stopped policy must bring each back.
    for (const c of containers) {
      const pid = (await docker.getContainer(c.Id).inspect()).State.Pid;
      expect(pid).toBeGreaterThan(1);
      process.kill(pid, "SIGKILL");
    }
    const killSecs = await waitBack(names);
    const afterKill = names.map(snapshot);

    // 2. Clean restart of every container (what an engine restart does with live-restore off).
    const r = spawnSync("docker", ["restart", "-t", "20", ...containers.map((c) => c.Id)], { encoding: "utf8", timeout: 300_000 });
    expect(r.status, r.stderr).toBe(0);
    const restartSecs = await waitBack(names);
    const afterRestart = names.map(snapshot);

    // 3. A fresh control-plane process sees the same instances, running, and nothing to reconcile.
    const list = await cli(["list", "--json"], { MDIND_HOME: rel.home });
    const listed = (JSON.parse(list.stdout) as { name: string; status: string }[]).filter((v) => names.includes(v.name));
    const rec = await cli(["reconcile", "--json"], { MDIND_HOME: rel.home });

    const lost = before.reduce((sum, b, i) => sum + Math.max(0, b.rows - afterKill[i].rows) + Math.max(0, b.rows - afterRestart[i].rows), 0);
    const filesChanged = before.filter((b, i) => b.file !== afterKill[i].file || b.file !== afterRestart[i].file).length;
    summary(`restart: ${names.length} instances (${containers.length} containers) killed and back in ${killSecs.toFixed(0)} s, restarted and back in ${restartSecs.toFixed(0)} s, ` +
      `${lost} rows lost, ${filesChanged} moodledata files changed (local engine; see docs/reliability.md)`);
    expect(lost).toBe(0);
    expect(filesChanged).toBe(0);
    expect(afterRestart.map((a) => a.rows)).toEqual(before.map((b) => b.rows));
    expect(listed.map((v) => v.status)).toEqual(names.map(() => "running"));
    expect(JSON.parse(rec.stdout).consistent).toBe(true);
    // And the sites still write after all that.
    for (const p of ports) expect(await siteStatus(p)).toBe(200);
  });
});
