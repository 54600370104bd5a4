import { PassThrough } from "node:stream";
import { describe, expect, it, vi } from "vitest";
import { missingOn, runInHost, sweepHelpers } from "../../lib/cluster/engine-io";
import { copyImages } from "../../lib/images/copy";
import type { Engine } from "../../lib/cluster/swarm";

/**
 * The engine-API-only helpers a cluster's control plane uses on a node (lib/cluster/engine-io.ts),
 * against a stub engine: what the helper container is asked to be, what a failure reports, that a
 * deadline stops (TERM) and removes the helper, and which images are copied.
 */
function stubEngine(run: { stdout?: string; stderr?: string; code?: number; hang?: boolean }) {
  const calls = { create: [] as Record<string, unknown>[], stop: 0, remove: 0 };
  const container = {
    attach: async () => {
      const s = new PassThrough();
      setTimeout(() => s.end(), 5);
      return s;
    },
    start: async () => undefined,
    wait: () => (run.hang ? new Promise(() => undefined) : Promise.resolve({ StatusCode: run.code ?? 0 })),
    stop: async () => {
      calls.stop++;
    },
    remove: async () => {
      calls.remove++;
    },
  };
  const engine = {
    createContainer: async (o: Record<string, unknown>) => {
      calls.create.push(o);
      return container;
    },
    listContainers: async () => [],
    modem: {
      demuxStream: (_s: unknown, out: PassThrough, err: PassThrough) => {
        if (run.stdout) out.write(run.stdout);
        if (run.stderr) err.write(run.stderr);
      },
    },
  } as unknown as Engine;
  return { engine, calls };
}

describe("runInHost: the node's own CLI through its engine API", () => {
  it("chroots a helper into the host's root, in its network and pid namespaces, data only as argv", async () => {
    const { engine, calls } = stubEngine({ stdout: '{"n":101}\n' });
    const r = await runInHost(engine, "img", ["node", "bin/moodle-dind.mjs", "create", "x;id"], { cwd: "/opt/moodle-dind", env: ["MDIND_HOME=/h"] });
    expect(r.stdout).toBe('{"n":101}\n');
    const o = calls.create[0] as { Entrypoint: string[]; Cmd: string[]; HostConfig: Record<string, unknown> };
    expect(o.Entrypoint).toEqual(["chroot"]);
    expect(o.Cmd.slice(0, 3)).toEqual(["/host", "/bin/bash", "-c"]);
    // The script is a constant; the caller's values follow it as separate arguments.
    expect(o.Cmd[3]).not.toContain("x;id");
    expect(o.Cmd.slice(4)).toEqual(["/opt/moodle-dind", "MDIND_HOME=/h", "node", "bin/moodle-dind.mjs", "create", "x;id"]);
    expect(o.HostConfig).toMatchObject({ Binds: ["/:/host"], NetworkMode: "host", PidMode: "host" });
    expect(calls.remove).toBe(1);
  });

  it("a failure reports the CLI's own error line, not its progress", async () => {
    const { engine } = stubEngine({ code: 3, stderr: "12:00:01 ✓ source (0.0 s)\n12:00:02 ✓ folders\nmoodle-dind: instance 'cw1' is busy\n" });
    await expect(runInHost(engine, "img", ["node", "x"], { what: "create cw1" })).rejects.toThrow(/create cw1 exited with 3: instance 'cw1' is busy$/);
  });

  it("a deadline stops the helper (TERM, so the CLI rolls back), then removes it", async () => {
    const { engine, calls } = stubEngine({ hang: true });
    await expect(runInHost(engine, "img", ["sleep", "1000"], { timeoutMs: 30, what: "slow" })).rejects.toThrow(/slow did not finish/);
    expect(calls.stop).toBe(1);
    expect(calls.remove).toBe(1);
  });
});

describe("sweepHelpers: leftovers of a control plane that died mid-run", () => {
  it("removes only helpers past their deadline (and its grace) on the engine's clock, never one still running its time", async () => {
    const now = 10_000_000_000;
    const ttl = (ms: number) => ({ "org.moodle-dind.cluster-helper.ttl": String(ms) });
    const created = (msAgo: number) => (now - msAgo) / 1000;
    const listed = [
      { Id: "old", Created: created(900_000), Labels: ttl(600_000) },
      { Id: "in-grace", Created: created(610_000), Labels: ttl(600_000) },
      { Id: "running", Created: created(60_000), Labels: ttl(600_000) },
      { Id: "garbled", Created: created(900_000), Labels: { "org.moodle-dind.cluster-helper.ttl": "soon;rm -rf /" } },
    ];
    const removed: string[] = [];
    const filters: unknown[] = [];
    const engine = {
      listContainers: async (o: { filters: unknown }) => {
        filters.push(o.filters);
        return listed;
      },
      getContainer: (id: string) => ({ remove: async () => void removed.push(id) }),
      // The node's clock, not this process's (which the test leaves as it is).
      info: async () => ({ SystemTime: new Date(now).toISOString() }),
    } as unknown as Engine;
    expect(await sweepHelpers(engine)).toBe(1);
    expect(removed).toEqual(["old"]);
    expect(filters[0]).toEqual({ label: ["org.moodle-dind.cluster-helper.ttl"] });
  });

  it("runInHost labels its helper with its time limit", async () => {
    const { engine, calls } = stubEngine({});
    await runInHost(engine, "img", ["true"], { timeoutMs: 5_000 });
    const labels = (calls.create[0] as { Labels: Record<string, string> }).Labels;
    expect(labels["org.moodle-dind.cluster-helper.ttl"]).toBe("5000");
  });
});

describe("missingOn", () => {
  it("names the paths the node lacks, and a failed check is an error, not 'nothing missing'", async () => {
    const ok = stubEngine({ stdout: "/mnt/b\n" });
    expect(await missingOn(ok.engine, "img", "/opt/app", ["/opt/app/a", "/opt/app/b"])).toEqual(["/opt/app/b"]);
    const bad = stubEngine({ code: 126, stderr: "sh: not found" });
    await expect(missingOn(bad.engine, "img", "/opt/app", ["/opt/app/a"])).rejects.toThrow(/exited 126/);
  });
});

describe("copyImages", () => {
  const images = (have: string[]) => ({
    getImage: (ref: string) => ({
      inspect: () => (have.includes(ref) ? Promise.resolve({}) : Promise.reject(new Error("no such image"))),
      get: async () => new PassThrough(),
    }),
    loadImage: vi.fn(async () => {
      const s = new PassThrough();
      setTimeout(() => s.end(), 1);
      return s;
    }),
  });

  it("copies only what the target lacks, and refuses an image neither engine has", async () => {
    const from = images(["a:1", "b:1"]);
    const to = images(["a:1"]);
    const log: string[] = [];
    expect(await copyImages(from as never, to as never, ["a:1", "b:1"], (l) => log.push(l))).toEqual(["b:1"]);
    expect(to.loadImage).toHaveBeenCalledTimes(1);
    await expect(copyImages(from as never, to as never, ["c:1"], () => undefined)).rejects.toThrow(/c:1 is on neither engine/);
  });
});
