import { EventEmitter } from "node:events";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { WebSocket } from "ws";

/**
 * Session bookkeeping (limits, idle, grace, replay, close) with the shell replaced by a recorder:
 * the real shells are exercised by tests/e2e/terminal.spec.ts against a real engine.
 */
interface FakeShell {
  written: string[];
  sizes: [number, number][];
  ended: number;
  emit(chunk: string): void;
  exit(code: number): void;
}
const shells: FakeShell[] = [];

vi.mock("../../services/terminal/shells", () => ({
  openShell: async () => {
    let dataCb: (b: Buffer) => void = () => undefined;
    const exitCbs: ((c: number | null) => void)[] = [];
    const rec: FakeShell = {
      written: [],
      sizes: [],
      ended: 0,
      emit: (s) => dataCb(Buffer.from(s)),
      exit: (c) => exitCbs.forEach((cb) => cb(c)),
    };
    shells.push(rec);
    return {
      write: (d: Buffer | string) => rec.written.push(d.toString()),
      resize: (c: number, r: number) => rec.sizes.push([c, r]),
      onData: (cb: (b: Buffer) => void) => (dataCb = cb),
      onExit: (cb: (c: number | null) => void) => exitCbs.push(cb),
      pause: () => undefined,
      resume: () => undefined,
      end: async () => {
        rec.ended++;
        return { ok: true, detail: "" };
      },
    };
  },
}));

class FakeWs extends EventEmitter {
  readonly OPEN = 1;
  readonly CONNECTING = 0;
  readyState = 1;
  bufferedAmount = 0;
  sent: (string | Buffer)[] = [];
  closed: { code: number; reason: string } | null = null;
  send(d: string | Buffer) {
    this.sent.push(d);
  }
  close(code: number, reason: string) {
    this.closed = { code, reason };
    this.readyState = 3;
    this.emit("close");
  }
  controls() {
    return this.sent.filter((d): d is string => typeof d === "string").map((d) => JSON.parse(d) as Record<string, unknown>);
  }
  binary() {
    return this.sent.filter((d): d is Buffer => Buffer.isBuffer(d)).map((b) => b.toString()).join("");
  }
}

const target = { kind: "container" as const, instance: "demo", service: "app" as const };
const who = (user = "admin") => ({ user, via: "session" });
let home: string;

beforeEach(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-term-unit-"));
  process.env.MDIND_HOME = home;
  process.env.MDIND_TERMINAL_MAX_PER_USER = "2";
  process.env.MDIND_TERMINAL_MAX_TOTAL = "3";
  process.env.MDIND_TERMINAL_IDLE_SECONDS = "60";
  process.env.MDIND_TERMINAL_GRACE_SECONDS = "10";
  shells.length = 0;
  vi.useFakeTimers();
});

afterEach(async () => {
  const { endAllSessions } = await import("../../services/terminal/sessions");
  const { auditSettled } = await import("../../services/terminal/audit");
  vi.useRealTimers();
  await endAllSessions();
  await auditSettled();
  fs.rmSync(home, { recursive: true, force: true });
});

const flush = async (ms = 0) => {
  await vi.advanceTimersByTimeAsync(ms);
};

describe("terminal sessions", () => {
  it("caps sessions per user and in total with 4429", async () => {
    const { startSession, TerminalRefusal, CLOSE } = await import("../../services/terminal/sessions");
    await startSession(who("a"), target, 80, 24);
    await startSession(who("a"), target, 80, 24);
    const third = startSession(who("a"), target, 80, 24);
    await expect(third).rejects.toBeInstanceOf(TerminalRefusal);
    await expect(third).rejects.toMatchObject({ code: CLOSE.limit });
    await startSession(who("b"), target, 80, 24);
    await expect(startSession(who("c"), target, 80, 24)).rejects.toMatchObject({ code: CLOSE.limit, message: /in total/ });
    expect(shells).toHaveLength(3);
  });

  it("routes binary frames to the shell and JSON resize (clamped) to resize; close ends at once", async () => {
    const { startSession, attach } = await import("../../services/terminal/sessions");
    const s = await startSession(who(), target, 80, 24);
    const ws = new FakeWs();
    attach(s, ws as unknown as WebSocket, { resumed: false, cols: 80, rows: 24 });
    expect(ws.controls()[0]).toMatchObject({ type: "hello", session: s.id, resumed: false });
    ws.emit("message", Buffer.from("ls\r"), true);
    ws.emit("message", Buffer.from(JSON.stringify({ type: "resize", cols: 9999, rows: 50 })), false);
    ws.emit("message", Buffer.from(JSON.stringify({ type: "resize", cols: "80;id", rows: 50 })), false);
    ws.emit("message", Buffer.from("not json"), false);
    expect(shells[0].written).toEqual(["ls\r"]);
    expect(shells[0].sizes).toEqual([[500, 50]]);
    ws.emit("message", Buffer.from(JSON.stringify({ type: "close" })), false);
    await flush(500);
    expect(shells[0].ended).toBe(1);
    expect(ws.closed?.code).toBe(4000);
    await (await import("../../services/terminal/audit")).auditSettled();
    const log = fs.readFileSync(path.join(home, "logs", "terminal-audit.log"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
    expect(log.map((l) => l.event)).toEqual(["terminal_start", "terminal_end"]);
    expect(log[1]).toMatchObject({ id: s.id, user: "admin", target: "demo/app", reason: "closed", reaped: true });
    expect(typeof log[1].durationMs).toBe("number");
  });

  it("keeps a detached session for the grace period and replays its output on re-attach", async () => {
    const { startSession, attach, findSession } = await import("../../services/terminal/sessions");
    const s = await startSession(who(), target, 80, 24);
    const ws1 = new FakeWs();
    attach(s, ws1 as unknown as WebSocket, { resumed: false, cols: 80, rows: 24 });
    shells[0].emit("hello ");
    shells[0].emit("world");
    ws1.close(1001, "gone");
    shells[0].emit("!");
    await flush(9_000);
    expect(shells[0].ended).toBe(0);
    expect(findSession(s.id, who("someone-else"), target)).toBeNull();
    expect(findSession(s.id, who(), { kind: "host" })).toBeNull();
    const again = findSession(s.id, who(), target);
    expect(again).toBe(s);
    const ws2 = new FakeWs();
    attach(s, ws2 as unknown as WebSocket, { resumed: true, cols: 100, rows: 30 });
    expect(ws2.controls()[0]).toMatchObject({ type: "hello", resumed: true });
    expect(ws2.binary()).toBe("hello world!");
    expect(shells[0].sizes.at(-1)).toEqual([100, 30]);
    ws2.close(1001, "gone");
    await flush(10_500);
    expect(shells[0].ended).toBe(1);
    expect(findSession(s.id, who(), target)).toBeNull();
  });

  it("caps the replay buffer at 64 KiB", async () => {
    const { startSession } = await import("../../services/terminal/sessions");
    const s = await startSession(who(), target, 80, 24);
    for (let i = 0; i < 50; i++) shells[0].emit("x".repeat(4096));
    expect(s.replayBytes).toBeLessThanOrEqual(64 * 1024);
    expect(s.replay.length).toBeLessThanOrEqual(100);
    for (let i = 0; i < 300; i++) shells[0].emit("y");
    expect(s.replay.length).toBeLessThanOrEqual(100);
  });

  it("ends a session without input for the idle limit, even while it prints", async () => {
    const { startSession, attach } = await import("../../services/terminal/sessions");
    const s = await startSession(who(), target, 80, 24);
    const ws = new FakeWs();
    attach(s, ws as unknown as WebSocket, { resumed: false, cols: 80, rows: 24 });
    await flush(50_000);
    ws.emit("message", Buffer.from("x"), true);
    await flush(50_000);
    shells[0].emit("still printing");
    expect(shells[0].ended).toBe(0);
    await flush(11_000);
    expect(shells[0].ended).toBe(1);
    expect(ws.closed?.code).toBe(4408);
    expect(ws.controls().at(-1)).toMatchObject({ type: "exit", reason: "idle" });
  });

  it("a shell that exits on its own is still reaped (its background jobs) and reported", async () => {
    const { startSession, attach } = await import("../../services/terminal/sessions");
    const s = await startSession(who(), target, 80, 24);
    const ws = new FakeWs();
    attach(s, ws as unknown as WebSocket, { resumed: false, cols: 80, rows: 24 });
    shells[0].exit(3);
    await flush(10);
    expect(shells[0].ended).toBe(1);
    expect(ws.controls().at(-1)).toMatchObject({ type: "exit", code: 3, reason: "exited" });
    expect(s.ending).toBe(true);
  });
});
