import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-keys-"));
process.env.MDIND_HOME = home;
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
const { stateKey } = await import("../../lib/keys");

describe("state keys (mail logins, device cookies)", () => {
  it("many callers creating one key at once all get the same 32 bytes, and no temp file is left", async () => {
    const keys = await Promise.all(Array.from({ length: 20 }, () => stateKey("race")));
    expect(keys[0]).toHaveLength(32);
    for (const k of keys) expect(k.equals(keys[0])).toBe(true);
    expect(fs.readdirSync(path.join(home, "state")).filter((f) => f.startsWith("race"))).toEqual(["race.key"]);
    expect(fs.statSync(path.join(home, "state", "race.key")).mode & 0o777).toBe(0o600);
  });

  it("refuses a key file that does not hold 32 bytes (an empty one would make every HMAC public)", async () => {
    fs.mkdirSync(path.join(home, "state"), { recursive: true });
    fs.writeFileSync(path.join(home, "state", "empty.key"), "");
    await expect(stateKey("empty")).rejects.toThrow(/32-byte/);
  });
});
