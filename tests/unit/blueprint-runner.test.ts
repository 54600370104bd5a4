import { describe, expect, it } from "vitest";
import { CommandError, ValidationError } from "@/lib/errors";
import {
  blueprintHash,
  parseBlueprint,
  parsePhpStepOutput,
  phpStepInput,
  phpStepScriptPath,
  redactStep,
  runBlueprint,
  type MarkerStore,
  type ParsedStep,
  type ProgressEvent,
  type StepExecutor,
} from "@/lib/blueprint";

const blueprint = parseBlueprint(
  JSON.stringify({
    steps: [
      { step: "login", username: "admin", password: "install-secret" },
      { step: "setAdminAccount", password: "Admin-Secret-1" },
      { step: "createUser", username: "u1", password: "User-Secret-1" },
      { step: "createUsers", users: [{ username: "u2", password: "User-Secret-2" }] },
      { step: "setConfig", name: "x", value: "1" },
    ],
  }),
);

function memoryMarker(initial: string | null = null): MarkerStore & { value: string | null } {
  const m = {
    value: initial,
    get: async () => m.value,
    set: async (h: string) => {
      m.value = h;
    },
  };
  return m;
}

function executor(failOn: string[] = [], message = "boom"): StepExecutor & { ran: string[] } {
  const ran: string[] = [];
  return {
    ran,
    runStep: async (step: ParsedStep) => {
      ran.push(step.name);
      if (failOn.includes(step.name)) throw new Error(message);
      return { changed: step.name !== "setConfig", detail: `did ${step.name}` };
    },
  };
}

describe("runBlueprint", () => {
  it("runs steps in order, skips no-ops, reports progress and sets the marker", async () => {
    const events: ProgressEvent[] = [];
    const marker = memoryMarker();
    const ex = executor();
    const res = await runBlueprint(blueprint, ex, { marker, onProgress: (e) => events.push(e) });
    expect(res.status).toBe("applied");
    expect(res.changed).toBe(true);
    expect(ex.ran).toEqual(["setAdminAccount", "createUser", "createUsers", "setConfig"]);
    expect(marker.value).toBe(blueprintHash(blueprint));
    expect(events.map((e) => `${e.index}:${e.name}:${e.status}`)).toEqual([
      "0:login:skipped",
      "1:setAdminAccount:running",
      "1:setAdminAccount:done",
      "2:createUser:running",
      "2:createUser:done",
      "3:createUsers:running",
      "3:createUsers:done",
      "4:setConfig:running",
      "4:setConfig:done",
    ]);
    expect(events.every((e) => e.total === 5)).toBe(true);
  });

  it("is a no-op when the marker holds this blueprint's hash, unless forced", async () => {
    const marker = memoryMarker(blueprintHash(blueprint));
    const ex = executor();
    expect((await runBlueprint(blueprint, ex, { marker })).status).toBe("unchanged");
    expect(ex.ran).toEqual([]);
    expect((await runBlueprint(blueprint, ex, { marker, force: true })).status).toBe("applied");
    expect(ex.ran).toHaveLength(4);
  });

  it("reapplies when the blueprint changed", async () => {
    const marker = memoryMarker("0".repeat(64));
    const ex = executor();
    expect((await runBlueprint(blueprint, ex, { marker })).status).toBe("applied");
    expect(ex.ran).toHaveLength(4);
  });

  it("aborts at the first failure and does not set the marker", async () => {
    const marker = memoryMarker();
    const ex = executor(["createUser"]);
    const res = await runBlueprint(blueprint, ex, { marker });
    expect(res.status).toBe("failed");
    expect(ex.ran).toEqual(["setAdminAccount", "createUser"]);
    expect(res.error?.message).toBe("step 3 (createUser): boom");
    expect(res.error?.step).toBe("createUser");
    expect(marker.value).toBeNull();
  });

  it("keeps the error kind of typed errors", async () => {
    const ex: StepExecutor = {
      runStep: async () => {
        throw new CommandError(["php"], 1, "", "PHP Fatal error");
      },
    };
    const res = await runBlueprint(blueprint, ex);
    expect(res.error?.kind).toBe("command");
  });

  it("continues past failures with warn, reports partial, and leaves the marker unset", async () => {
    const marker = memoryMarker();
    const ex = executor(["createUser", "createUsers"]);
    const res = await runBlueprint(blueprint, ex, { marker, onError: "warn" });
    expect(res.status).toBe("partial");
    expect(ex.ran).toEqual(["setAdminAccount", "createUser", "createUsers", "setConfig"]);
    expect(res.steps.filter((s) => s.status === "failed").map((s) => s.name)).toEqual(["createUser", "createUsers"]);
    expect(marker.value).toBeNull();
  });

  it("stops on a critical step even with warn", async () => {
    const p = parseBlueprint(JSON.stringify({ steps: [{ step: "setConfig", name: "a", critical: true }, { step: "setConfig", name: "b" }] }));
    const ex = executor(["setConfig"]);
    const res = await runBlueprint(p, ex, { onError: "warn" });
    expect(res.status).toBe("failed");
    expect(ex.ran).toHaveLength(1);
  });

  it("refuses unsafe steps in a hand-built ParsedBlueprint whose policy does not allow them", async () => {
    const allowed = parseBlueprint(JSON.stringify({ steps: [{ step: "runPhpCode", code: "echo 1;" }] }), { policy: { allowUnsafe: true } });
    const tampered = { ...allowed, policy: { ...allowed.policy, allowUnsafe: false } };
    const ex = executor();
    const res = await runBlueprint(tampered, ex);
    expect(res.status).toBe("failed");
    expect(res.error).toBeInstanceOf(ValidationError);
    expect(ex.ran).toEqual([]);
  });

  it("never lets secrets reach progress output, even when the executor echoes them", async () => {
    const events: ProgressEvent[] = [];
    const ex: StepExecutor = {
      runStep: async (step) => {
        if (step.name === "createUser") throw new Error(`could not set password User-Secret-1 for u1`);
        return { changed: true, detail: `admin password is now ${String(step.args.password)}` };
      },
    };
    const res = await runBlueprint(blueprint, ex, { onError: "warn", onProgress: (e) => events.push(e) });
    const text = JSON.stringify(events) + JSON.stringify(res.steps) + (res.error?.message ?? "");
    for (const secret of ["install-secret", "Admin-Secret-1", "User-Secret-1", "User-Secret-2"]) expect(text).not.toContain(secret);
    expect(text).toContain("********");
  });

  it("is not derailed by a throwing progress listener", async () => {
    const res = await runBlueprint(blueprint, executor(), {
      onProgress: () => {
        throw new Error("socket closed");
      },
    });
    expect(res.status).toBe("applied");
  });
});

describe("redactStep", () => {
  it("redacts passwords at any depth and shortens bulky inline data", () => {
    expect(redactStep(blueprint.steps[1])).toEqual({ step: "setAdminAccount", password: "********" });
    const users = redactStep(blueprint.steps[3]) as { users: Array<Record<string, unknown>> };
    expect(users.users[0].password).toBe("********");
    expect(users.users[0].username).toBe("u2");
    expect(redactStep({ step: "installMoodle", options: { adminPass: "x", siteName: "S" } })).toEqual({
      step: "installMoodle",
      options: { adminPass: "********", siteName: "S" },
    });
    const big = redactStep({ step: "restoreCourse", data: { base64: "A".repeat(5000) } }) as { data: { base64: string } };
    expect(big.data.base64).toBe("<5000 characters>");
  });

  it("does not modify the step it is given", () => {
    const before = JSON.stringify(blueprint.steps[2]);
    redactStep(blueprint.steps[2]);
    expect(JSON.stringify(blueprint.steps[2])).toBe(before);
  });
});

describe("PHP step protocol", () => {
  it("materialises resource fields and keeps everything else", async () => {
    const p = parseBlueprint(JSON.stringify({ resources: { b: { bundled: "c.mbz" } }, steps: [{ step: "restoreCourse", data: "@b", category: "X" }] }));
    const seen: unknown[] = [];
    const json = await phpStepInput(p.steps[0], async (desc, field) => {
      seen.push([desc, field]);
      return { localPath: "/tmp/c.mbz" };
    });
    expect(seen).toEqual([[{ bundled: "c.mbz" }, "data"]]);
    expect(JSON.parse(json)).toEqual({ step: "restoreCourse", data: { localPath: "/tmp/c.mbz" }, category: "X", createCategory: true });
  });

  it("reads the last line as the result and maps errors", () => {
    expect(parsePhpStepOutput('noise\n{"changed":true,"detail":"created"}\n', 0)).toEqual({ changed: true, detail: "created" });
    expect(() => parsePhpStepOutput('{"changed":false,"error":"createUser: boom"}', 1)).toThrow(/createUser: boom/);
    expect(() => parsePhpStepOutput('{"changed":false,"error":"bad json"}', 2)).toThrow(ValidationError);
    expect(() => parsePhpStepOutput("Segmentation fault", null)).toThrow(/gave no result/);
  });

  it("ships the script next to the protocol", async () => {
    const { existsSync } = await import("node:fs");
    expect(existsSync(phpStepScriptPath())).toBe(true);
  });
});
