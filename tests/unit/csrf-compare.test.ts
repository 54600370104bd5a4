import { describe, expect, it, vi } from "vitest";

/** The CSRF token is compared in constant time, whatever the lengths (a timing oracle otherwise). */
const calls = vi.hoisted(() => ({ n: 0 }));
vi.mock("node:crypto", async (orig) => {
  const m = await orig<typeof import("node:crypto")>();
  const timingSafeEqual = (a: NodeJS.ArrayBufferView, b: NodeJS.ArrayBufferView) => {
    calls.n++;
    return m.timingSafeEqual(a, b);
  };
  return { ...m, default: { ...m, timingSafeEqual }, timingSafeEqual };
});

const { csrfOk, sameSecret } = await import("../../services/auth");

describe("CSRF token comparison", () => {
  const session = { csrf: "k3J9x2mQpL0vN8sT4wY6zA1bC5dE7fG9" };

  it("goes through crypto.timingSafeEqual, for equal and unequal lengths alike", () => {
    calls.n = 0;
    expect(csrfOk(session, { csrf: session.csrf })).toBe(true);
    expect(calls.n).toBe(1);
    expect(csrfOk(session, { csrf: `${session.csrf.slice(0, -1)}X` })).toBe(false);
    expect(calls.n).toBe(2);
    expect(csrfOk(session, { csrf: "short" })).toBe(false);
    expect(calls.n).toBe(3);
    expect(csrfOk(session, { csrf: "" })).toBe(false);
  });

  it("sameSecret never throws on different lengths", () => {
    expect(sameSecret("a", "a")).toBe(true);
    expect(sameSecret("a", "ab")).toBe(false);
    expect(sameSecret("", "")).toBe(true);
    expect(sameSecret("é", "e")).toBe(false);
  });
});
