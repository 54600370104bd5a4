import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { jsonBody, MAX_JSON_BYTES, route } from "../../edge/http/edge";
import { POST as login } from "../../app/api/v1/auth/login/route";

/**
 * JSON bodies: the cap holds while reading (a chunked body has no Content-Length to refuse
 * early), only a body declared as JSON is parsed, and a malformed path escape is a 400.
 */
let home: string;
const saved = { ...process.env };

beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-body-"));
  process.env.MDIND_HOME = home;
  process.env.MDIND_ADMIN_PASSWORD = "right-password";
});
afterAll(() => {
  process.env = { ...saved };
  fs.rmSync(home, { recursive: true, force: true });
});

/** A chunked body of `total` bytes, produced only as it is read; `pulled()` says how much was. */
function endless(total: number, chunk = 64 * 1024): { body: ReadableStream<Uint8Array>; pulled: () => number } {
  let sent = 0;
  const body = new ReadableStream<Uint8Array>({
    pull(ctl) {
      if (sent >= total) return ctl.close();
      const n = Math.min(chunk, total - sent);
      sent += n;
      ctl.enqueue(new Uint8Array(n).fill(0x20));
    },
  }, { highWaterMark: 0 });
  return { body, pulled: () => sent };
}

const post = (url: string, body: BodyInit | ReadableStream | null, headers: Record<string, string> = {}) =>
  new Request(url, { method: "POST", body, headers: { host: "127.0.0.1:7800", ...headers }, duplex: "half" } as RequestInit);

const schema = z.object({ a: z.number().optional() });

describe("jsonBody", () => {
  it("stops reading a chunked body at the cap and answers 413", async () => {
    const src = endless(20 * 1024 * 1024);
    const res = await login(post("http://127.0.0.1:7800/api/v1/auth/login", src.body, { "content-type": "application/json" }), { params: Promise.resolve({}) });
    expect(res.status).toBe(413);
    expect(src.pulled()).toBeLessThan(MAX_JSON_BYTES + 256 * 1024);
  });

  it("refuses a declared Content-Length over the cap without reading", async () => {
    const src = endless(2 * MAX_JSON_BYTES);
    const req = post("http://x/", src.body, { "content-type": "application/json", "content-length": String(2 * MAX_JSON_BYTES) });
    await expect(jsonBody(req, schema)).rejects.toMatchObject({ status: 413 });
    expect(src.pulled()).toBeLessThanOrEqual(64 * 1024);
  });

  it("parses only bodies declared as JSON (415 otherwise), and no body as {}", async () => {
    const login415 = await login(post("http://127.0.0.1:7800/api/v1/auth/login", '{"password":"right-password"}', { "content-type": "text/plain" }), { params: Promise.resolve({}) });
    expect(login415.status).toBe(415);
    await expect(jsonBody(post("http://x/", '{"a":1}', { "content-type": "text/plain;charset=UTF-8" }), schema)).rejects.toMatchObject({ status: 415 });
    await expect(jsonBody(post("http://x/", "a=1", { "content-type": "application/x-www-form-urlencoded" }), schema)).rejects.toMatchObject({ status: 415 });
    const bare = new Request("http://x/", { method: "POST", body: new Blob(['{"a":1}']) });
    expect(bare.headers.get("content-type")).toBeNull();
    await expect(jsonBody(bare, schema)).rejects.toMatchObject({ status: 415 });
    expect(await jsonBody(post("http://x/", '{"a":1}', { "content-type": "application/json; charset=utf-8" }), schema)).toEqual({ a: 1 });
    expect(await jsonBody(post("http://x/", null), schema)).toEqual({});
    const ok = await login(post("http://127.0.0.1:7800/api/v1/auth/login", '{"password":"right-password"}', { "content-type": "application/json" }), { params: Promise.resolve({}) });
    expect(ok.status).toBe(200);
  });
});

describe("route() path parameters", () => {
  it("answers a malformed percent-escape with 400, not 500", async () => {
    const h = route(async ({ params }) => params, { public: true });
    const res = await h(new Request("http://x/api/v1/instances/%E0%A4%A/config"), {
      params: Promise.resolve().then(() => ({ name: decodeURIComponent("%E0%A4%A") })),
    });
    expect(res.status).toBe(400);
  });
});
