import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";

/**
 * An operation's "done" comes before its log is flushed and its lock released: the status refresh
 * it triggers must wait for the release, or the list keeps showing "busy" (seen once in the bulk
 * stop/start e2e test on a loaded machine).
 */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-events-idle-"));
process.env.MDIND_HOME = home;
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));

it("the refresh after done runs once the operation no longer holds the instance", async () => {
  const { runOperation, subscribe, isBusy } = await import("../../lib/operations");
  const { whenIdle } = await import("../../services/events");
  let busyAtDone: unknown = undefined;
  let busyAtRefresh: unknown = undefined;
  const off = subscribe("w1", (ev) => {
    if (ev.type !== "done") return;
    busyAtDone = isBusy("w1");
    whenIdle("w1", ev.opId, () => (busyAtRefresh = isBusy("w1")));
  });
  await runOperation("w1", "stop", async () => 1);
  for (let i = 0; i < 100 && busyAtRefresh === undefined; i++) await new Promise((r) => setTimeout(r, 20));
  off();
  expect(busyAtDone).toMatchObject({ op: "stop" });
  expect(busyAtRefresh).toBeNull();
});
