import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

/** edge/http/launch.ts: answer with the operation id as soon as there is one, and always settle. */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-launch-"));
process.env.MDIND_HOME = home;
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

describe("launch", () => {
  it("resolves with the id of the operation fn starts, before the operation ends", async () => {
    const { launch } = await import("../../edge/http/launch");
    const { runOperation } = await import("../../lib/operations");
    let finish!: () => void;
    const gate = new Promise<void>((r) => (finish = r));
    const { opId, done } = await launch("lt-a", () => runOperation("lt-a", "test", () => gate.then(() => 42)));
    expect(opId).toMatch(/^[a-z0-9]+-[0-9a-f]{8}$/);
    finish();
    expect(await done).toBe(42);
  });

  it("rejects when fn fails before any operation starts (the caller still answers 4xx)", async () => {
    const { launch } = await import("../../edge/http/launch");
    await expect(launch("lt-b", () => Promise.reject(new Error("bad input")))).rejects.toThrow("bad input");
  });

  it("resolves with opId null when fn finishes without starting one (nothing to do), instead of hanging", async () => {
    const { launch } = await import("../../edge/http/launch");
    const r = await Promise.race([launch("lt-c", async () => "nothing"), new Promise((r) => setTimeout(() => r("hung"), 2000))]);
    expect(r).not.toBe("hung");
    const { opId, done } = r as { opId: string | null; done: Promise<string> };
    expect(opId).toBeNull();
    expect(await done).toBe("nothing");
  });
});
