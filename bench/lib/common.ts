/**
 * Shared helpers of the bench scripts: the machine header every report starts with, a throwaway
 * data dir, loopback-only HTTP probes, per-container memory/CPU from the engine, host CPU from
 * /proc/stat, and small table printing. Nothing here sends traffic anywhere but 127.0.0.1.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import http from "node:http";
import { execFileSync, spawn } from "node:child_process";
import { AsyncLocalStorage } from "node:async_hooks";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const MiB = 1024 * 1024;

/** An integer from the environment, clamped: bench sizes are inputs like any other. */
export function envInt(name: string, def: number, min: number, max: number): number {
  const v = Number.parseInt(process.env[name] ?? "", 10);
  return Math.min(max, Math.max(min, Number.isFinite(v) ? v : def));
}

/**
 * A fresh MDIND_HOME for this run, set before any lib module reads settings(). Each bench owns
 * its data dir, so it never lists, touches or cleans up another engineer's instances.
 */
export function benchHome(prefix: string): string {
  // BENCH_HOME reuses a data dir (its Moodle library and templates): a real-Moodle template is a full install.
  const home = process.env.BENCH_HOME ? path.resolve(process.env.BENCH_HOME) : fs.mkdtempSync(path.join(os.tmpdir(), `mdind-bench-${prefix}-`));
  process.env.MDIND_HOME = home;
  process.env.MDIND_RECONCILE_ON_START ??= "report";
  return home;
}

export function commit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: ROOT, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** The first lines of every report: what ran, where and when, so figures can be compared later. */
export function header(bench: string, extra = ""): string {
  const la = os.loadavg().map((x) => x.toFixed(1)).join(" ");
  return [
    `bench ${bench}${extra ? ` — ${extra}` : ""}`,
    `machine: ${os.cpus().length} cores (${os.cpus()[0]?.model ?? "?"}), ${(os.totalmem() / 1024 ** 3).toFixed(1)} GiB RAM, load avg ${la}`,
    `date: ${new Date().toISOString()}  commit: ${commit()}  node ${process.version}`,
  ].join("\n");
}

/** GET http://127.0.0.1:port/path once: status and wall time. Never throws (status 0 = no answer). */
export function probe(port: number, pathname: string, timeoutMs = 30_000): Promise<{ status: number; ms: number }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const req = http.get({ host: "127.0.0.1", port, path: pathname, timeout: timeoutMs, agent: false }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - t0 }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", () => resolve({ status: 0, ms: performance.now() - t0 }));
  });
}

/** Poll until the page answers 200; returns when it did (ms since epoch) or throws at the deadline. */
export async function until200(port: number, pathname: string, deadlineMs: number): Promise<number> {
  for (;;) {
    if ((await probe(port, pathname, 10_000)).status === 200) return Date.now();
    if (Date.now() > deadlineMs) throw new Error(`127.0.0.1:${port}${pathname} did not answer 200 in time`);
    await sleep(200);
  }
}

/** Host-wide CPU counters (jiffies) from /proc/stat: busy share between two samples. */
export function procStat(): { busy: number; total: number } {
  const line = fs.readFileSync("/proc/stat", "utf8").split("\n")[0];
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (f[3] ?? 0) + (f[4] ?? 0);
  const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * CPU the engine itself has used (ticks of 1/CLK_TCK s, 100 on Linux): dockerd, containerd and
 * every containerd-shim, children they reaped included (runc, exec'd health checks). A container's
 * own cgroup never sees this part of an exec.
 */
export function engineCpuTicks(): number {
  let sum = 0;
  for (const pid of fs.readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
      const comm = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      if (!/^(dockerd|containerd|containerd-shim.*)$/.test(comm)) continue;
      const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      // Fields 14–17 of /proc/pid/stat (utime, stime, cutime, cstime), counted from state (field 3).
      sum += Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14]);
    } catch {
      /* the process ended between readdir and read */
    }
  }
  return sum;
}

/** Engine exec starts (health checks or anything else) for this data dir's containers over a window. */
export async function countExecs(sinceS: number, untilS: number): Promise<Map<string, number>> {
  const { docker, homeId, LABEL } = await import("../../lib/docker");
  const stream = (await docker().getEvents({ since: sinceS, until: untilS, filters: { type: ["container"], event: ["exec_start"], label: [`${LABEL.home}=${homeId()}`] } })) as NodeJS.ReadableStream;
  const out = new Map<string, number>();
  let buf = "";
  for await (const chunk of stream) buf += chunk.toString();
  for (const line of buf.split("\n")) {
    if (!line.trim()) continue;
    const ev = JSON.parse(line) as { Actor?: { Attributes?: Record<string, string> } };
    const inst = ev.Actor?.Attributes?.[LABEL.instance] ?? "?";
    out.set(inst, (out.get(inst) ?? 0) + 1);
  }
  return out;
}

export interface ContainerSample {
  id: string;
  name: string;
  instance: string;
  service: string;
  /** Working set as `docker stats` shows it: usage minus inactive file cache. */
  memBytes: number;
  /** Cumulative CPU time, ns. */
  cpuNs: number;
}

interface RawStats {
  cpu_stats?: { cpu_usage?: { total_usage?: number } };
  memory_stats?: { usage?: number; stats?: Record<string, number> };
}

/** One-shot stats of every running container of this bench's data dir. */
export async function sampleContainers(): Promise<ContainerSample[]> {
  const { docker, homeId, LABEL } = await import("../../lib/docker");
  const list = await docker().listContainers({ filters: { label: [`${LABEL.home}=${homeId()}`], status: ["running"] } });
  const out: ContainerSample[] = [];
  let i = 0;
  const worker = async () => {
    while (i < list.length) {
      const c = list[i++];
      const raw = (await docker().getContainer(c.Id).stats({ stream: false, "one-shot": true } as never)) as unknown as RawStats;
      const st = raw.memory_stats?.stats ?? {};
      const inactive = st.total_inactive_file ?? st.inactive_file ?? 0;
      const usage = raw.memory_stats?.usage ?? 0;
      out.push({
        id: c.Id,
        name: (c.Names?.[0] ?? "").replace(/^\//, ""),
        instance: c.Labels?.[LABEL.instance] ?? "?",
        service: c.Labels?.[LABEL.service] ?? "?",
        memBytes: Math.max(0, usage - inactive),
        cpuNs: raw.cpu_stats?.cpu_usage?.total_usage ?? 0,
      });
    }
  };
  await Promise.all(Array.from({ length: 6 }, worker));
  return out;
}

/** Run `fn` over items with at most `n` at once; results in input order. */
export async function pool<T, R>(items: T[], n: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      // After Ctrl+C no new item starts, except in the clean-up's own pools: a create or start pool
      // left going would keep making instances the clean-up never sees.
      while (next < items.length && (!interrupted || inCleanup.getStore() === true)) {
        const i = next++;
        out[i] = await fn(items[i], i);
      }
    }),
  );
  // Stopped by Ctrl+C: the bench's next step (another create) must not run after the clean-up.
  if (next < items.length) throw new Error("interrupted");
  return out;
}

export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

export const mib = (b: number) => (b / MiB).toFixed(1);

/** A plain text table: first row is the header. */
export function table(rows: (string | number)[][]): string {
  const w = rows[0].map((_, c) => Math.max(...rows.map((r) => String(r[c] ?? "").length)));
  return rows.map((r, i) => {
    const line = r.map((x, c) => (c === 0 ? String(x).padEnd(w[c]) : String(x).padStart(w[c]))).join("  ");
    return i === 0 ? `${line}\n${w.map((n) => "─".repeat(n)).join("  ")}` : line;
  }).join("\n");
}

/** Run a program (argv, no shell) and collect stdout; rejects on a non-zero exit. */
export function run(cmd: string, args: string[], opts: { input?: NodeJS.ReadableStream } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: [opts.input ? "pipe" : "ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    p.stdout!.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr!.on("data", (d: Buffer) => (err += d.toString()));
    if (opts.input) opts.input.pipe(p.stdin!);
    p.on("error", reject);
    p.on("close", (code) => (code === 0 ? resolve(out) : reject(new Error(`${cmd} ${args.join(" ")}: exit ${code}: ${err.slice(-500)}`))));
  });
}

/** Cleanups run once, also on Ctrl-C, so an interrupted bench leaves no instances behind. */
const cleanups: (() => Promise<unknown>)[] = [];
export function onCleanup(fn: () => Promise<unknown>): void {
  cleanups.push(fn);
}
/** Set inside the clean-up's callbacks, so only their pools carry on after Ctrl+C. */
const inCleanup = new AsyncLocalStorage<boolean>();
let cleaning: Promise<void> | null = null;
/** One clean-up per process: a second caller (the signal handler, then main's own end) waits for the first. */
export function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    while (cleanups.length) {
      const fn = cleanups.pop()!;
      await inCleanup.run(true, fn).catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
    }
  })();
  return cleaning;
}
let interrupted = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    console.error(`\n${sig}: cleaning up…`);
    void cleanup().finally(() => process.exit(130));
  });
}

/**
 * Create an instance, retrying when another data dir on this shared engine took the same network
 * or port between our allocation and our use of it (the engine says "try again"), or a service
 * did not start in time.
 */
export async function createWithRetry(input: Record<string, unknown>, tries = 4): Promise<void> {
  const { createInstance } = await import("../../instances/create");
  const { parseCreateInput } = await import("../../instances/spec");
  for (let i = 1; ; i++) {
    try {
      await createInstance(parseCreateInput(input));
      return;
    } catch (e) {
      const err = e as { kind?: string; message?: string };
      // Also a service too slow to start: on a machine shared with other work, a database start can take longer than readiness waits.
      if (i >= tries || !/try again|taken|in use|network \S+ not found|did not become ready/i.test(err.message ?? "")) throw e;
      await sleep(1000 * i);
    }
  }
}
