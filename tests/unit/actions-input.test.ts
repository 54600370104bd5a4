import { describe, expect, it } from "vitest";
import { phpSwitchSchema } from "../../edge/http/schemas";
import { deleteSnapshot } from "../../instances/snapshots";
import { createLoginLink } from "../../instances/login";
import { ValidationError } from "../../lib/errors";

/** Hostile input to the inputs the instance actions added: refused before anything is touched. */
describe("instance action inputs", () => {
  it("PHP switch takes only a known version and nothing else", () => {
    expect(phpSwitchSchema.parse({ version: "7.4" })).toEqual({ version: "7.4" });
    for (const bad of [{ version: "8.2; rm -rf /" }, { version: "../8.2" }, { version: 8.2 }, { version: "8.2", extra: 1 }, {}, { version: "" }, { version: "9.9" }]) {
      expect(phpSwitchSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
  });

  it("snapshot delete refuses ids and names that are not ours", async () => {
    for (const id of ["../../instance.json", "20250101T120000Z/../../x", "20250101T120000Z-UPPER", "x".repeat(300), "", "20250101T120000Z\u0000"]) {
      await expect(deleteSnapshot("okname", id), id).rejects.toBeInstanceOf(ValidationError);
    }
    await expect(deleteSnapshot("../etc", "20250101T120000Z")).rejects.toBeInstanceOf(ValidationError);
  });

  it("login links refuse a name that is not an instance name", async () => {
    for (const n of ["../etc", "a/b", "", "-x", "A".repeat(40)]) await expect(createLoginLink(n), n).rejects.toBeInstanceOf(ValidationError);
  });
});
