import { afterEach, describe, expect, it, vi } from "vitest";
import { route } from "../../edge/http/edge";
import { AppError, CommandError } from "../../lib/errors";

/** A handler's unexpected failure is logged as one JSON line under a request id the 500 answer carries. */
function capture(): string[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  return lines;
}

const call = (fn: () => Promise<unknown>) =>
  route(fn, { public: true })(new Request("http://127.0.0.1:7800/api/v1/things/x?q=1", { method: "GET" }), { params: Promise.resolve({}) });

describe("route() failures", () => {
  afterEach(() => vi.restoreAllMocks());

  it("logs an unexpected error with a request id and answers 500 with the same id, no internals", async () => {
    const lines = capture();
    const res = await call(async () => {
      throw new TypeError("cannot read /var/lib/moodle-dind/state/auth.json");
    });
    vi.restoreAllMocks();
    expect(res.status).toBe(500);
    const body = (await res.json()) as { error: { kind: string; message: string; requestId: string } };
    expect(body.error.kind).toBe("internal");
    expect(body.error.message).toBe("internal error");
    expect(body.error.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.headers.get("x-request-id")).toBe(body.error.requestId);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(line).toMatchObject({ event: "route_error", requestId: body.error.requestId, method: "GET", path: "/api/v1/things/x" });
    expect(line.error).toContain("auth.json");
    expect(typeof line.ts).toBe("string");
    expect(lines[0].endsWith("\n")).toBe(true);
  });

  it("logs failed commands (500) too, and not the client's own errors", async () => {
    const lines = capture();
    const cmd = await call(async () => {
      throw new CommandError(["php", "x.php"], 2, "", "boom");
    });
    const bad = await call(async () => {
      throw new AppError("validation", "no");
    });
    vi.restoreAllMocks();
    expect(cmd.status).toBe(500);
    expect(((await cmd.json()) as { error: { requestId?: string } }).error.requestId).toBeTruthy();
    expect(bad.status).toBe(422);
    expect(lines).toHaveLength(1);
  });
});
