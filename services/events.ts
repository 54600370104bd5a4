import { EventEmitter } from "node:events";
import fs from "node:fs";
import fsp from "node:fs/promises";
import type Docker from "dockerode";
import { LABEL, listManagedContainers, managedEvents } from "../lib/docker";
import { paths } from "../lib/config";

import { isBusy, subscribe, type OpEvent } from "../lib/operations";
import { recordFile, type InstanceRecord } from "../instances/store";
import { toView, type InstanceView } from "../instances/query";
import { WATCH_INTERVAL_MS, withHealth } from "../instances/health";

/**
 * Live instance status without polling: one docker-events stream for every managed container,
 * reconnecting with backoff, turned into "this instance now looks like X" events. Plus a cheap
 * list view: records are cached by (mtime, size) of instance.json, so listing 100 instances is
 * one readdir, 100 stats and one listContainers call.
 *
 * State lives on globalThis: the custom server and Next's bundled routes are two module graphs
 * in one process, and the SSE route must hear the watcher the server started.
 */
export interface StatusEvent {
  instance: string;
  /** null when the instance no longer exists. */
  view: InstanceView | null;
  /** The docker action or operation event type that caused it. */
  cause: string;
}

interface Hub {
  emitter: EventEmitter;
  watching: boolean;
  stream: NodeJS.ReadableStream | null;
  records: Map<string, { mtimeMs: number; size: number; rec: InstanceRecord }>;
  pending: Map<string, NodeJS.Timeout>;
  lastError: string | null;
  connected: boolean;
  /** Operation events with a process-wide sequence, for Last-Event-ID replay on the one stream. */
  ops: { gseq: number; ev: OpEvent }[];
  gseq: number;
  tracking: boolean;
  /**
   * Containers per instance, kept current by the events stream (seeded with one full listing per
   * connection, then one per-instance listing per change). null while the stream is down: then
   * every list asks the engine. A full `all=true` listing costs ~200–400 ms at 400 containers on
   * dockerd 20.10; this keeps the list at a few ms.
   */
  containers: Map<string, Docker.ContainerInfo[]> | null;
  /** Each instance's latest own listing, so a slow seed never overwrites newer data. */
  refreshedAt: Map<string, { at: number; list: Docker.ContainerInfo[] }>;
  /** The health probe loop, running only while someone listens for status; last health per instance. */
  healthTimer: NodeJS.Timeout | null;
  lastHealth: Map<string, string>;
}

const g = globalThis as unknown as { __mdindEvents?: Hub };
function hub(): Hub {
  g.__mdindEvents ??= {
    emitter: new EventEmitter().setMaxListeners(0),
    watching: false,
    stream: null,
    records: new Map(),
    pending: new Map(),
    lastError: null,
    connected: false,
    ops: [],
    gseq: 0,
    tracking: false,
    containers: null,
    refreshedAt: new Map(),
    healthTimer: null,
    lastHealth: new Map(),
  };
  return g.__mdindEvents;
}

export function onStatus(listener: (ev: StatusEvent) => void): () => void {
  const h = hub();
  h.emitter.on("status", listener);
  watchHealth();
  return () => {
    h.emitter.off("status", listener);
    watchHealth();
  };
}

const healthKey = (v: InstanceView) => v.services.map((s) => `${s.service}:${s.health}`).join(",");

/**
 * Containers carry no engine health checks (instances/stack.ts), so no docker event says "now
 * unhealthy". While anyone listens (an open dashboard), probe every running instance every
 * WATCH_INTERVAL_MS and emit a status event for each whose health changed; with no listener,
 * nothing runs.
 */
function watchHealth(): void {
  const h = hub();
  const wanted = h.emitter.listenerCount("status") > 0;
  if (!wanted && h.healthTimer) {
    clearInterval(h.healthTimer);
    h.healthTimer = null;
    h.lastHealth.clear();
  } else if (wanted && !h.healthTimer) {
    let running = false;
    const tick = () => {
      if (running) return;
      running = true;
      probeAll()
        .catch((e: unknown) => {
          h.lastError = e instanceof Error ? e.message : String(e);
        })
        .finally(() => {
          running = false;
        });
    };
    h.healthTimer = setInterval(tick, WATCH_INTERVAL_MS);
    h.healthTimer.unref();
    // Probe at once: the first round only records each instance's health (no event), so a change
    // in the first interval after someone starts watching would otherwise never be reported.
    tick();
  }
}

async function probeAll(): Promise<void> {
  const h = hub();
  const containers = h.containers ? [...h.containers.values()].flat() : await managed();
  const records = (await cachedRecords()).filter((r) => r.state === "ready");
  const views = await withHealth(records.map((r) => toView(r, containers)), containers, { fresh: true });
  for (const v of views) {
    const key = healthKey(v);
    const before = h.lastHealth.get(v.name);
    h.lastHealth.set(v.name, key);
    if (before !== undefined && before !== key) h.emitter.emit("status", { instance: v.name, view: v, cause: "health" } satisfies StatusEvent);
  }
}

export function watcherState(): { connected: boolean; lastError: string | null } {
  const h = hub();
  return { connected: h.connected, lastError: h.lastError };
}

/** A record from disk, re-read only when instance.json changed. */
function cachedRecord(name: string): InstanceRecord | null {
  const h = hub();
  const file = recordFile(name);
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    h.records.delete(name);
    return null;
  }
  const hit = h.records.get(name);
  if (hit && hit.mtimeMs === st.mtimeMs && hit.size === st.size) return hit.rec;
  try {
    const rec = JSON.parse(fs.readFileSync(file, "utf8")) as InstanceRecord;
    h.records.set(name, { mtimeMs: st.mtimeMs, size: st.size, rec });
    return rec;
  } catch {
    // Half-written by another process: keep the last good copy.
    return hit?.rec ?? null;
  }
}

export async function cachedRecords(): Promise<InstanceRecord[]> {
  let names: string[];
  try {
    names = await fsp.readdir(paths.instances());
  } catch {
    return [];
  }
  const out: InstanceRecord[] = [];
  for (const n of names.sort()) {
    const r = cachedRecord(n);
    if (r) out.push(r);
  }
  return out;
}

const managed = (instance?: string) => listManagedContainers({ instance });

/** The instance list: the same views as instances/query listInstances, from cached records. */
export async function listViews(): Promise<InstanceView[]> {
  const h = hub();
  const known = h.containers;
  const [records, containers] = await Promise.all([cachedRecords(), known ? Promise.resolve([...known.values()].flat()) : managed()]);
  return withHealth(records.map((r) => toView(r, containers)), containers);
}

export async function viewOf(name: string): Promise<InstanceView | null> {
  const h = hub();
  const started = Date.now();
  const list = await managed(name);
  // Remembered only while seeding (the map is null then); the seed merges it.
  if (!h.containers) h.refreshedAt.set(name, { at: started, list });
  if (h.containers) {
    if (list.length) h.containers.set(name, list);
    else h.containers.delete(name);
  }
  const rec = cachedRecord(name);
  if (!rec) return null;
  const [view] = await withHealth([toView(rec, list)], list);
  if (h.healthTimer) h.lastHealth.set(name, healthKey(view));
  return view;
}

/** One full listing, grouped per instance, right after the stream (re)connects. */
async function seedContainers(): Promise<void> {
  const h = hub();
  const started = Date.now();
  const all = await managed();
  const map = new Map<string, Docker.ContainerInfo[]>();
  for (const c of all) {
    const inst = c.Labels?.[LABEL.instance];
    if (!inst) continue;
    map.set(inst, [...(map.get(inst) ?? []), c]);
  }
  // Instances refreshed while the listing ran are newer than it: keep their own listing.
  for (const [inst, r] of h.refreshedAt) {
    if (r.at < started) continue;
    if (r.list.length) map.set(inst, r.list);
    else map.delete(inst);
  }
  h.refreshedAt.clear();
  h.containers = map;
}

/** Coalesce bursts (a restart is 8 container events) into one refresh per instance. */
function schedule(name: string, cause: string, delayMs = 200) {
  const h = hub();
  if (h.pending.has(name)) return;
  h.pending.set(
    name,
    setTimeout(() => {
      h.pending.delete(name);
      viewOf(name)
        .then((view) => h.emitter.emit("status", { instance: name, view, cause } satisfies StatusEvent))
        .catch((e: unknown) => {
          h.lastError = e instanceof Error ? e.message : String(e);
        });
    }, delayMs),
  );
}

const INTERESTING = /^(create|start|restart|die|stop|kill|destroy|pause|unpause|oom|health_status)/;

const OPS_KEPT = 2000;

/**
 * Run `fn` once operation `opId` no longer holds `instance`. Its "done" is emitted before its log
 * is flushed and its lock released, so a view read right after it (a loaded machine makes the gap
 * long) still said "busy", and nothing refreshed it until the next container event.
 */
export function whenIdle(instance: string, opId: string, fn: () => void, triesLeft = 200): void {
  if (isBusy(instance)?.id !== opId || triesLeft <= 0) return fn();
  setTimeout(() => whenIdle(instance, opId, fn, triesLeft - 1), 50);
}

/**
 * Record every operation event under one process-wide sequence (the SSE id), and refresh the
 * instance when an operation moves: a create's record goes creating → installing → ready without
 * any container event.
 */
export function trackOperations(): void {
  const h = hub();
  if (h.tracking) return;
  h.tracking = true;
  subscribe("*", (ev: OpEvent) => {
    const item = { gseq: ++h.gseq, ev };
    h.ops.push(item);
    if (h.ops.length > OPS_KEPT) h.ops.splice(0, h.ops.length - OPS_KEPT);
    h.emitter.emit("op", item);
    if (ev.type === "done" || ev.type === "error") whenIdle(ev.instance, ev.opId, () => schedule(ev.instance, `operation:${ev.op}:${ev.type}`, 0));
    else if (ev.type === "start" || (ev.type === "step" && ev.status !== "running")) schedule(ev.instance, `operation:${ev.op}:${ev.type}`, 50);
  });
}

/** Operation events after global sequence `after` still in memory. */
export function opsAfter(after: number): { gseq: number; ev: OpEvent }[] {
  return hub().ops.filter((x) => x.gseq > after);
}

export function onOp(listener: (item: { gseq: number; ev: OpEvent }) => void): () => void {
  const h = hub();
  h.emitter.on("op", listener);
  return () => h.emitter.off("op", listener);
}

/** Start the watcher once per process (idempotent: the SSE route calls it too). */
export function startStatusWatcher(log: (event: string, fields?: Record<string, unknown>) => void = () => undefined): void {
  trackOperations();
  const h = hub();
  if (h.watching) return;
  h.watching = true;

  let backoff = 1000;
  const connect = async () => {
    try {
      const stream = await managedEvents();
      h.stream = stream;
      h.connected = true;
      h.lastError = null;
      backoff = 1000;
      seedContainers()
        .then(() => log("docker_events_connected", { instances: hub().containers?.size ?? 0 }))
        .catch((e: unknown) => log("container_seed_failed", { error: e instanceof Error ? e.message : String(e) }));
      let buf = "";
      stream.on("data", (chunk: Buffer) => {
        buf += chunk.toString("utf8");
        let i: number;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i).trim();
          buf = buf.slice(i + 1);
          if (!line) continue;
          try {
            const ev = JSON.parse(line) as { Action?: string; status?: string; Actor?: { Attributes?: Record<string, string> } };
            const name = ev.Actor?.Attributes?.[LABEL.instance];
            const action = ev.Action ?? ev.status ?? "";
            if (name && INTERESTING.test(action)) schedule(name, action.split(":")[0]);
          } catch {
            // A torn line from a reconnect; the next event refreshes the instance anyway.
          }
        }
        if (buf.length > 1 << 20) buf = "";
      });
      const retry = (why: string) => {
        if (h.stream !== stream) return;
        h.stream = null;
        h.connected = false;
        // Events may be missed until the next connection: ask the engine directly meanwhile.
        h.containers = null;
        h.lastError = why;
        log("docker_events_lost", { error: why, retryInMs: backoff });
        setTimeout(connect, backoff).unref();
        backoff = Math.min(backoff * 2, 30_000);
      };
      stream.on("end", () => retry("stream ended"));
      stream.on("error", (e: Error) => retry(e.message));
    } catch (e) {
      h.connected = false;
      h.lastError = e instanceof Error ? e.message : String(e);
      log("docker_events_unavailable", { error: h.lastError, retryInMs: backoff });
      setTimeout(connect, backoff).unref();
      backoff = Math.min(backoff * 2, 30_000);
    }
  };
  void connect();
}
