import { afterAll, describe, expect, it } from "vitest";
import { sweepHelpers } from "@/lib/cluster/engine-io";
import { docker } from "@/lib/docker";
import { imageRef } from "@/lib/images/catalog";

/**
 * The sweep of helper containers a control plane left behind (lib/cluster/engine-io.ts), on the
 * real engine: one past its deadline goes, one within its time (another control plane's run) stays.
 */
const TTL = "org.moodle-dind.cluster-helper.ttl";
const names = [`mdind-helper-old-${process.pid}`, `mdind-helper-live-${process.pid}`];

afterAll(async () => {
  for (const n of names) await docker().getContainer(n).remove({ force: true }).catch(() => null);
});

describe("sweepHelpers", () => {
  it("removes a helper past its deadline and keeps one still running its time", async () => {
    const make = (name: string, ttl: number) =>
      docker().createContainer({ name, Image: imageRef("nginx", "1.22"), Entrypoint: ["sleep"], Cmd: ["600"], Labels: { "org.moodle-dind.cluster-helper": "true", [TTL]: String(ttl) }, HostConfig: { NetworkMode: "none" } });
    // A time limit of minus the minute's grace and a second: past its deadline the moment it exists.
    const old = await make(names[0], -61_000);
    await old.start();
    await make(names[1], 10 * 60_000);
    expect(await sweepHelpers(docker())).toBeGreaterThanOrEqual(1);
    await expect(docker().getContainer(names[0]).inspect()).rejects.toMatchObject({ statusCode: 404 });
    await expect(docker().getContainer(names[1]).inspect()).resolves.toMatchObject({ Name: `/${names[1]}` });
  }, 60_000);
});
