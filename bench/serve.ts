/**
 * bench serve: page throughput of ONE instance with our tuned PHP settings and again with
 * Debian's stock php-fpm pool and PHP/OPcache defaults, on the same instance in the same run
 * (the stock files are swapped into its config folder, the app restarted, then restored).
 * wrk (Debian's package) against /login/index.php and a course page of real Moodle when
 * MOODLE_SOURCE is set, else the fixture app's page. Bounded: wrk -t2 -c8 -d15s per run, 127.0.0.1 only.
 *
 *   MOODLE_SOURCE=/work/moodle-src BENCH_DURATION=15 npm run bench -- serve
 */
import fs from "node:fs";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { benchHome, cleanup, createWithRetry, envInt, header, mib, onCleanup, probe, run, sampleContainers, sleep, table } from "./lib/common";
import { STOCK_FPM, STOCK_PHP_INI } from "./lib/stock";
import { FPM_IDLE_TIMEOUT_S } from "../instances/render";

const DURATION = envInt("BENCH_DURATION", 15, 5, 60);
const CONNS = envInt("BENCH_CONNECTIONS", 8, 1, 32);
const ROUNDS = envInt("BENCH_ROUNDS", 2, 1, 5);
const home = benchHome("serve");
const moodle = process.env.MOODLE_SOURCE ? "5.1" : "fixture";
const name = `serve-${process.pid.toString(36).slice(-4)}`;
const log = (s: string) => process.stderr.write(`[serve ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

/** wrk is Debian's; install it when missing (the bench is useless without it). */
function ensureWrk(): void {
  if (spawnSync("wrk", ["-v"], { stdio: "ignore" }).error === undefined) return;
  log("wrk is missing: installing Debian's package");
  const r = spawnSync("apt-get", ["install", "-y", "--no-install-recommends", "wrk"], { stdio: "inherit" });
  if (r.status !== 0) throw new Error("could not install wrk (apt-get install wrk)");
}

export interface WrkResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  errors: number;
  non2xx: number;
}

function ms(v: string, unit: string): number {
  const x = Number.parseFloat(v);
  return unit === "us" ? x / 1000 : unit === "s" ? x * 1000 : unit === "m" ? x * 60_000 : x;
}

export function parseWrk(out: string): WrkResult {
  const pct = (p: string) => {
    const m = new RegExp(`^\\s*${p}%\\s+([\\d.]+)(us|ms|s|m)\\s*$`, "m").exec(out);
    return m ? ms(m[1], m[2]) : Number.NaN;
  };
  const errs = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out);
  return {
    rps: Number.parseFloat(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? "NaN"),
    p50: pct("50"),
    p99: pct("99"),
    requests: Number.parseInt(/(\d+) requests in/.exec(out)?.[1] ?? "0", 10),
    errors: errs ? errs.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: Number.parseInt(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? "0", 10),
  };
}

async function wrk(port: number, pathname: string, seconds: number): Promise<WrkResult> {
  const url = `http://127.0.0.1:${port}${pathname}`;
  return parseWrk(await run("wrk", ["-t2", `-c${CONNS}`, `-d${seconds}s`, "--timeout", "10s", "--latency", url]));
}

/** A course anonymous visitors can open (guest access + autologin), so wrk measures a real course page. */
const COURSE_PHP = `<?php
define('CLI_SCRIPT', true);
require('/var/www/moodle/config.php');
require_once($CFG->dirroot . '/course/lib.php');
set_config('autologinguests', 1);
set_config('status', 0, 'enrol_guest');
$c = $DB->get_record('course', ['shortname' => 'benchcourse']);
if (!$c) {
    $cat = $DB->get_field_sql('SELECT MIN(id) FROM {course_categories}');
    $c = create_course((object)['fullname' => 'Bench course', 'shortname' => 'benchcourse', 'category' => $cat, 'summary' => 'bench']);
}
echo $c->id;
`;

async function main() {
  ensureWrk();
  const { ping } = await import("../lib/docker");
  const { removeInstance, restartInstance } = await import("../instances/lifecycle");
  const { readRecord } = await import("../instances/store");
  const { execIn } = await import("../lib/exec");
  const { containerName } = await import("../instances/stack");
  const { docker } = await import("../lib/docker");
  await ping();
  onCleanup(async () => {
    await removeInstance(name).catch(() => undefined);
    fs.rmSync(home, { recursive: true, force: true });
  });

  log(`creating ${moodle} instance ${name} (a real Moodle install takes minutes on a busy machine)`);
  const t0 = Date.now();
  await createWithRetry({ name, moodle, template: false });
  log(`created in ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  const { port } = await readRecord(name);

  const pages: { label: string; path: string }[] = [];
  if (moodle === "fixture") pages.push({ label: "fixture page /", path: "/" });
  else {
    const r = await execIn(containerName(name, "app"), ["php"], { user: "www-data", workdir: "/var/www/moodle", stdin: COURSE_PHP, what: "bench course" });
    const id = Number.parseInt(r.stdout.trim().split("\n").pop() ?? "", 10);
    pages.push({ label: "/login/index.php", path: "/login/index.php" });
    if (Number.isFinite(id)) pages.push({ label: `course page (id ${id}, guest)`, path: `/course/view.php?id=${id}` });
  }
  // Cron is not what is measured: its runs (the first compiles theme CSS for seconds) would land in one config's window only.
  await docker().getContainer(containerName(name, "cron")).stop({ t: 5 }).catch(() => undefined);

  // Every config is the same two files in the instance's config folder, then an app restart.
  const { applyProfile } = await import("../instances/profile");
  const { configDir } = await import("../instances/store");
  const rec = await readRecord(name);
  const phpDir = configDir(name, "php", rec.spec.php);
  const tunedIni = fs.readFileSync(path.join(phpDir, "php.ini"), "utf8");
  const tunedFpm = fs.readFileSync(path.join(phpDir, "fpm.conf"), "utf8");
  onCleanup(async () => {
    fs.writeFileSync(path.join(phpDir, "php.ini"), tunedIni);
    fs.writeFileSync(path.join(phpDir, "fpm.conf"), tunedFpm);
  });
  // config.php too: ours keeps PostgreSQL connections per php-fpm worker, Moodle's config-dist does not.
  const { dataDir } = await import("../instances/store");
  const configPhp = path.join(dataDir(name, "code"), "config.php");
  const tunedCfg = fs.readFileSync(configPhp, "utf8");
  onCleanup(async () => fs.writeFileSync(configPhp, tunedCfg));
  const stockCfg = tunedCfg.replace(/'dbpersist' => 1/, "'dbpersist' => 0");
  const CONFIGS: Record<string, { ini: string; fpm: string; cfg: string }> = {
    "tuned dev": { ini: tunedIni, fpm: tunedFpm, cfg: tunedCfg },
    "tuned prod": { ini: applyProfile(tunedIni, "prod"), fpm: tunedFpm, cfg: tunedCfg },
    stock: { ini: STOCK_PHP_INI, fpm: STOCK_FPM, cfg: stockCfg },
  };
  const applyConfig = async (config: string) => {
    fs.writeFileSync(path.join(phpDir, "php.ini"), CONFIGS[config].ini);
    fs.writeFileSync(path.join(phpDir, "fpm.conf"), CONFIGS[config].fpm);
    fs.writeFileSync(configPhp, CONFIGS[config].cfg);
    await restartInstance(name, ["app"]);
  };

  // Moodle fills its caches (MUC, lang strings, templates) on the first requests: done once,
  // before anything is measured, so the first config measured does not pay for them.
  for (const p of pages) {
    log(`warming Moodle's caches on ${p.path} for 10 s`);
    await wrk(port, p.path, 10);
  }

  const results: Record<string, Record<string, WrkResult[]>> = {};
  const measure = async (config: string) => {
    await applyConfig(config);
    for (const p of pages) {
      const first = await probe(port, p.path, 120_000);
      log(`${config} ${p.path}: first request ${first.status} in ${first.ms.toFixed(0)} ms; warming OPcache`);
      await wrk(port, p.path, 3);
      await sleep(1000);
      const r = await wrk(port, p.path, DURATION);
      log(`${config} ${p.path}: ${r.rps} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms`);
      ((results[p.label] ??= {})[config] ??= []).push(r);
    }
  };
  // Rounds in alternating order: on a shared machine the load drifts, and neither side should
  // always run first or last.
  const order = Object.keys(CONFIGS);
  for (let r = 0; r < ROUNDS; r++) for (const cfg of r % 2 === 0 ? order : [...order].reverse()) await measure(cfg);
  await applyConfig("tuned dev");
  // Idle memory of this instance after heavy use: ondemand workers gone, OPcache's shared memory stays.
  log(`waiting ${FPM_IDLE_TIMEOUT_S + 5} s for php-fpm ondemand workers to exit (idle timeout ${FPM_IDLE_TIMEOUT_S} s), then sampling memory`);
  await probe(port, pages[0].path, 120_000);
  await sleep((FPM_IDLE_TIMEOUT_S + 5) * 1000);
  const mem = (await sampleContainers()).filter((x) => x.instance === name);
  const memLine = `idle memory after use (cron stopped): ${mem.map((x) => `${x.service} ${mib(x.memBytes)}`).join(", ")}, total ${mib(mem.reduce((a, x) => a + x.memBytes, 0))} MiB`;

  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const agg = (rs: WrkResult[]) => ({
    rps: mean(rs.map((r) => r.rps)), p50: mean(rs.map((r) => r.p50)), p99: mean(rs.map((r) => r.p99)),
    requests: rs.reduce((a, r) => a + r.requests, 0), non2xx: rs.reduce((a, r) => a + r.non2xx, 0), errors: rs.reduce((a, r) => a + r.errors, 0),
    runs: rs.map((r) => r.rps.toFixed(1)).join(" "),
  });
  const rows: (string | number)[][] = [["page", "config", "req/s", "runs req/s", "p50 ms", "p99 ms", "requests", "non-2xx/3xx", "errors"]];
  const lines: string[] = [];
  for (const [label, byCfg] of Object.entries(results)) {
    for (const cfg of order) {
      if (!byCfg[cfg]) continue;
      const r = agg(byCfg[cfg]);
      rows.push([label, cfg, r.rps.toFixed(1), r.runs, r.p50.toFixed(1), r.p99.toFixed(1), r.requests, r.non2xx, r.errors]);
    }
    if (!byCfg.stock) continue;
    const s = agg(byCfg.stock);
    for (const cfg of ["tuned dev", "tuned prod"]) {
      if (!byCfg[cfg]) continue;
      const t = agg(byCfg[cfg]);
      lines.push(`${label}, ${cfg}: ${(t.rps / s.rps).toFixed(2)}× stock throughput (target ≥ 1.5×), p99 ${t.p99.toFixed(1)} vs ${s.p99.toFixed(1)} ms (${t.p99 < s.p99 ? "lower" : "NOT lower"}), p50 ${t.p50.toFixed(1)} vs ${s.p50.toFixed(1)} ms`);
    }
  }
  console.log([
    header("serve", `${moodle === "fixture" ? "fixture app" : `Moodle from ${process.env.MOODLE_SOURCE}`}, wrk -t2 -c${CONNS} -d${DURATION}s, one instance, ${ROUNDS} round(s) of tuned dev (the default profile), tuned prod and stock in alternating order`),
    `stock = Debian www.conf pool (dynamic, 5 children) + php.ini-production OPcache/realpath defaults + Moodle's config-dist dboptions (dbpersist 0); tuned = instances/render.ts (php.ini, fpm.conf, config.php)`,
    "",
    table(rows),
    "",
    ...lines,
    memLine,
    moodle === "fixture" ? "note: the fixture page is a few lines of PHP; only real Moodle (MOODLE_SOURCE) shows what OPcache sizing buys." : "",
  ].join("\n"));
}

main()
  .then(cleanup, async (e) => {
    console.error(e);
    await cleanup();
    process.exitCode = 1;
  })
  .finally(() => process.exit());
