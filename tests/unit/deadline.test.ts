import net from "node:net";
import path from "node:path";
import { spawn } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { withDeadline } from "../../lib/deadline";

/**
 * lib/deadline.ts. A server (in this process) that accepts and never answers: a short-lived process
 * waiting on it must report the timeout, not end silently (AbortSignal.timeout's timer is unref'd).
 */
const ROOT = path.resolve(__dirname, "..", "..");
let server: net.Server;
let port = 0;
const held: net.Socket[] = [];

beforeAll(async () => {
  server = net.createServer((s) => held.push(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as net.AddressInfo).port;
});
afterAll(() => {
  for (const s of held) s.destroy();
  server.close();
});

function child(code: string): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const p = spawn(path.join(ROOT, "node_modules", ".bin", "tsx"), ["-e", code], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    p.stdout.on("data", (d: Buffer) => (out += d.toString()));
    p.stderr.on("data", (d: Buffer) => (out += d.toString()));
    p.on("exit", (c) => resolve({ code: c, out }));
  });
}

describe("withDeadline", () => {
  it("aborts a fetch to a server that never answers, and clears its timer when fn settles", async () => {
    const t0 = Date.now();
    await expect(withDeadline(300, (signal) => fetch(`http://127.0.0.1:${port}/`, { signal }))).rejects.toThrow();
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(await withDeadline(60_000, async () => 7)).toBe(7);
  });

  it("keeps a short-lived process alive until the deadline and rejects even when fn ignores the signal", async () => {
    // Nothing but the deadline is pending here: with an unref'd timer the process would exit at once, silently.
    const r = await child(
      `import { withDeadline } from "./lib/deadline";
       withDeadline(1500, () => new Promise(() => undefined))
         .then(() => console.log("SETTLED"), (e) => console.log("TIMED-OUT " + e.message));`,
    );
    expect(r.out).toContain("TIMED-OUT no answer within 1500 ms");
  }, 30_000);

  it("a fetch to a server that accepts and never answers times out in a child process too", async () => {
    const r = await child(
      `import { withDeadline } from "./lib/deadline";
       withDeadline(1500, (signal) => fetch("http://127.0.0.1:${port}/", { signal }))
         .then(() => console.log("ANSWERED"), (e) => console.log("TIMED-OUT " + e.message));`,
    );
    expect(r.out).toContain("TIMED-OUT");
  }, 30_000);
});
