import { afterAll, beforeAll, describe, expect, it } from "vitest";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { ValidationError } from "@/lib/errors";
import { siteRequest, sitePathOf } from "@/instances/blueprint-request";
import type { InstanceRecord } from "@/instances/store";

/**
 * The request step reaches the instance and nothing else. The "instance" here is a local HTTP server
 * on 127.0.0.1 standing in for the published port; every hostile URL must be refused before any socket.
 */
let server: http.Server;
let port = 0;
const seen: { method?: string; url?: string; host?: string; body: string }[] = [];

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (d) => (body += d));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, host: req.headers.host, body });
      res.statusCode = req.url?.startsWith("/missing") ? 404 : 200;
      res.end("ok");
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const rec = () => ({ url: `http://moodle.test:${port}/`, port }) as InstanceRecord;

describe("request step", () => {
  it("maps site paths and the site's own URLs (and Playground's localhost:8080) to a path on the instance", () => {
    expect(sitePathOf(rec(), "/admin/index.php?cache=1")).toBe("/admin/index.php?cache=1");
    expect(sitePathOf(rec(), `http://moodle.test:${port}/login/index.php`)).toBe("/login/index.php");
    expect(sitePathOf(rec(), "http://localhost:8080/my/")).toBe("/my/");
    expect(sitePathOf(rec(), `http://127.0.0.1:${port}/x`)).toBe("/x");
  });

  it("refuses anything that is not the instance", () => {
    for (const bad of [
      "//evil.example/x",
      "http://evil.example/",
      "https://moodle.test/", // same host, other scheme/port
      "http://169.254.169.254/latest/meta-data/",
      `http://user:pw@moodle.test:${port}/`,
      "http://127.0.0.1:2375/containers/json", // the engine
      "file:///etc/passwd",
      "gopher://127.0.0.1/",
      "/a b",
      "/a\\b",
      "admin/index.php",
    ]) {
      expect(() => sitePathOf(rec(), bad), bad).toThrow(ValidationError);
    }
  });

  it("sends the request to the instance's port with its own Host, and reports no change", async () => {
    const out = await siteRequest(rec(), { url: "/post/here", method: "POST", headers: { "X-Test": "1" }, body: "a=1", expectOk: true });
    expect(out.changed).toBe(false);
    expect(out.detail).toMatch(/^POST \/post\/here → 200/);
    expect(seen.at(-1)).toEqual({ method: "POST", url: "/post/here", host: `moodle.test:${port}`, body: "a=1" });
  });

  it("fails on an error status unless expectOk is false, and refuses routing headers", async () => {
    await expect(siteRequest(rec(), { url: "/missing", method: "GET", headers: {}, expectOk: true })).rejects.toThrow(/returned 404/);
    await expect(siteRequest(rec(), { url: "/missing", method: "GET", headers: {}, expectOk: false })).resolves.toMatchObject({ changed: false });
    await expect(siteRequest(rec(), { url: "/", method: "GET", headers: { Host: "evil" }, expectOk: true })).rejects.toThrow(/header 'Host'/);
  });
});
