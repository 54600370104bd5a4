import { afterAll, describe, expect, it } from "vitest";
import { destroyContainer, docker } from "@/lib/docker";

/**
 * The engine adapter against the real engine. Removal races: a rollback removing containers that a
 * user (or a second rollback) is removing at the same moment meets the engine's 409 "removal ... is
 * already in progress"; that must count as removed, or the rollback fails and leaves a half-made
 * instance behind.
 */
const name = `mdind-adapter-race-${process.pid}`;

afterAll(async () => {
  await docker().getContainer(name).remove({ force: true }).catch(() => null);
});

describe("destroyContainer", () => {
  it("treats a removal already in progress as removed, and waits until the container is gone", async () => {
    const seen: string[] = [];
    for (let round = 0; round < 5; round++) {
      const c = await docker().createContainer({ name, Image: "debian:bullseye-slim", Cmd: ["sleep", "600"], StopSignal: "SIGKILL" });
      await c.start();
      // Several removals at once: the engine answers all but one of them 409 (in progress) or 404.
      const raw = await Promise.allSettled(Array.from({ length: 4 }, () => docker().getContainer(name).remove({ force: true, v: true })));
      for (const r of raw) if (r.status === "rejected") seen.push(String((r.reason as { statusCode?: number }).statusCode));
      await docker().getContainer(name).remove({ force: true }).catch(() => null);

      const again = await docker().createContainer({ name, Image: "debian:bullseye-slim", Cmd: ["sleep", "600"], StopSignal: "SIGKILL" });
      await again.start();
      await Promise.all(Array.from({ length: 4 }, () => destroyContainer(name)));
      await expect(docker().getContainer(name).inspect()).rejects.toMatchObject({ statusCode: 404 });
    }
    // The race is real on this engine: raw removals met 409 or 404 answers.
    expect(seen.length).toBeGreaterThan(0);
  }, 120_000);

  it("a container that never existed is not an error", async () => {
    await expect(destroyContainer(`mdind-never-${process.pid}`)).resolves.toBeUndefined();
  });
});
