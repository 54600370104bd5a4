import { EventEmitter } from "node:events";
import fs from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { paths } from "./config";
import { AppError, ConflictError, isAppError } from "./errors";
import { withFileLock } from "./lock";
import { validateName } from "./names";

/**
 * One operation channel per instance. It is the per-instance lock (one operation at a time, also
 * across processes through a lock file), it streams progress to subscribers, and it keeps a replay
 * buffer in memory plus an ndjson log file so a refreshed page or a late CLI catches up.
 */
export type OpEventType = "start" | "step" | "log" | "done" | "error";

export interface OpEvent {
  seq: number;
  ts: string;
  opId: string;
  instance: string;
  op: string;
  type: OpEventType;
  step?: string;
  status?: "running" | "done" | "failed" | "skipped";
  message?: string;
  durationMs?: number;
  /** On error: which kind, for edges that map it. */
  errorKind?: string;
}

export interface Operation {
  id: string;
  instance: string;
  op: string;
  /** Run `fn` as a named step; its timing and failure are recorded. */
  step<T>(name: string, fn: () => Promise<T>): Promise<T>;
  log(message: string, step?: string): void;
  readonly currentStep: string | null;
}

/**
 * Channels that are not instances: image builds, the Moodle build library and the cluster's node
 * operations (drain). Instance names start with a letter (lib/names.ts), so these can never collide
 * with one.
 */
export const IMAGES_CHANNEL = "_images";
export const MOODLE_CHANNEL = "_moodle";
/** One channel for all nodes: two drains at once would each pick the other's node as a target. */
export const CLUSTER_CHANNEL = "_cluster";
export const RESERVED_CHANNELS: readonly string[] = [IMAGES_CHANNEL, MOODLE_CHANNEL, CLUSTER_CHANNEL];

/** A step runner for work done outside an operation (the CLI): the step is just the call. */
export const inlineStep: Operation["step"] = (_name, fn) => fn();

/** An operation scope from outside (route param, query): a reserved channel or a valid instance name. */
export function channelParam(raw: unknown): string {
  return typeof raw === "string" && RESERVED_CHANNELS.includes(raw) ? raw : validateName(raw);
}

const REPLAY_LIMIT = 500;
// Process-wide, on globalThis: the dashboard's custom server and Next's bundled route code load
// this file as two module instances in one process, and both must see the same channels and bus.
const shared = globalThis as unknown as { __mdindOps?: { bus: EventEmitter; channels: Map<string, ChannelState> } };
shared.__mdindOps ??= { bus: new EventEmitter().setMaxListeners(0), channels: new Map() };
const bus = shared.__mdindOps.bus;

interface ChannelState {
  running: { id: string; op: string } | null;
  buffer: OpEvent[];
  seq: number;
}
const channels = shared.__mdindOps.channels;

function channel(instance: string): ChannelState {
  let c = channels.get(instance);
  if (!c) {
    c = { running: null, buffer: [], seq: 0 };
    channels.set(instance, c);
  }
  return c;
}

function logFile(instance: string, opId: string) {
  return path.join(paths.operations(), instance, `${opId}.ndjson`);
}

/** Secrets must never reach a log: redact anything that looks like a password argument. */
export function redact(message: string): string {
  return message
    .replace(/(--(?:adminpass|dbpass|password)=)\S+/gi, "$1***")
    .replace(/("(?:password|adminpass|dbpass|secret|token)"\s*:\s*")[^"]*"/gi, '$1***"');
}

function emit(instance: string, ev: Omit<OpEvent, "seq" | "ts" | "instance">, stream: fs.WriteStream | null) {
  const c = channel(instance);
  const full: OpEvent = { seq: ++c.seq, ts: new Date().toISOString(), instance, ...ev };
  if (full.message) full.message = redact(full.message);
  c.buffer.push(full);
  if (c.buffer.length > REPLAY_LIMIT) c.buffer.splice(0, c.buffer.length - REPLAY_LIMIT);
  stream?.write(`${JSON.stringify(full)}\n`);
  bus.emit("event", full);
}

/** Unknown failures become internal errors, except a full disk, which is a capacity problem the user can fix. */
function asAppError(e: unknown): AppError {
  const msg = e instanceof Error ? e.message : String(e);
  if ((e as NodeJS.ErrnoException)?.code === "ENOSPC") {
    return new AppError("capacity", `the disk holding ${paths.instances()} is full: free some space and try again (${msg})`, { cause: e });
  }
  return new AppError("internal", msg, { cause: e });
}

export function isBusy(instance: string): { id: string; op: string } | null {
  return channel(instance).running;
}

/**
 * Run `fn` as the instance's one operation. Throws ConflictError at once when another operation
 * holds the instance, in this process or another.
 */
export async function runOperation<T>(instance: string, op: string, fn: (o: Operation) => Promise<T>): Promise<T> {
  const c = channel(instance);
  const what = instance === MOODLE_CHANNEL ? "the Moodle library" : instance === CLUSTER_CHANNEL ? "the cluster" : `instance '${instance}'`;
  if (c.running) throw new ConflictError(`${what} is busy: ${c.running.op} is in progress`);
  const id = `${Date.now().toString(36)}-${randomUUID().slice(0, 8)}`;
  c.running = { id, op };
  try {
    return await withFileLock(
      path.join(paths.state(), "locks", `${instance}.lock`),
      async () => {
        fs.mkdirSync(path.dirname(logFile(instance, id)), { recursive: true });
        const stream = fs.createWriteStream(logFile(instance, id), { flags: "a", mode: 0o600 });
        // The log file is a copy of what subscribers get: a full disk must fail the operation with a
        // clear error (below), not crash the process through an unhandled stream error.
        stream.on("error", () => undefined);
        let current: string | null = null;
        const o: Operation = {
          id,
          instance,
          op,
          get currentStep() {
            return current;
          },
          log(message, step) {
            emit(instance, { opId: id, op, type: "log", step: step ?? current ?? undefined, message }, stream);
          },
          async step(name, stepFn) {
            const started = Date.now();
            const prev = current;
            current = name;
            emit(instance, { opId: id, op, type: "step", step: name, status: "running" }, stream);
            try {
              const out = await stepFn();
              emit(instance, { opId: id, op, type: "step", step: name, status: "done", durationMs: Date.now() - started }, stream);
              return out;
            } catch (e) {
              if (isAppError(e) && !e.step) e.step = name;
              emit(instance, {
                opId: id, op, type: "step", step: name, status: "failed", durationMs: Date.now() - started,
                message: e instanceof Error ? e.message : String(e),
              }, stream);
              throw e;
            } finally {
              current = prev;
            }
          },
        };
        const started = Date.now();
        emit(instance, { opId: id, op, type: "start", message: `${op} ${instance}` }, stream);
        try {
          const out = await fn(o);
          emit(instance, { opId: id, op, type: "done", durationMs: Date.now() - started }, stream);
          return out;
        } catch (e) {
          const err = isAppError(e) ? e : asAppError(e);
          emit(instance, {
            opId: id, op, type: "error", step: err.step, errorKind: err.kind, durationMs: Date.now() - started,
            message: err.step ? `${err.step} failed: ${err.message}` : err.message,
          }, stream);
          throw err;
        } finally {
          await new Promise<void>((r) => stream.end(r));
        }
      },
      { wait: false },
    ).catch((e) => {
      if (e instanceof ConflictError && /locked by another process/.test(e.message)) {
        throw new ConflictError(`${what} is busy: another process is running an operation on it`);
      }
      throw e;
    });
  } finally {
    c.running = null;
  }
}

/** Subscribe to every operation event (instance = "*") or one instance's; returns unsubscribe. */
export function subscribe(instance: string, listener: (ev: OpEvent) => void): () => void {
  const f = (ev: OpEvent) => {
    if (instance === "*" || ev.instance === instance) listener(ev);
  };
  bus.on("event", f);
  return () => bus.off("event", f);
}

/** Events still in memory after `afterSeq`: what a reconnecting client missed. */
export function replay(instance: string, afterSeq = 0): OpEvent[] {
  return channel(instance).buffer.filter((e) => e.seq > afterSeq);
}

/** Operation history from disk (survives restarts): newest first. */
export function listOperationLogs(instance: string): { id: string; file: string; mtime: number }[] {
  const dir = path.join(paths.operations(), instance);
  try {
    return fs
      .readdirSync(dir)
      .filter((f) => f.endsWith(".ndjson"))
      .map((f) => ({ id: f.replace(/\.ndjson$/, ""), file: path.join(dir, f), mtime: fs.statSync(path.join(dir, f)).mtimeMs }))
      .sort((a, b) => b.mtime - a.mtime);
  } catch {
    return [];
  }
}

export function readOperationLog(instance: string, opId: string): OpEvent[] {
  if (!/^[a-z0-9-]{1,40}$/.test(opId)) return [];
  try {
    return fs
      .readFileSync(logFile(instance, opId), "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as OpEvent);
  } catch {
    return [];
  }
}
