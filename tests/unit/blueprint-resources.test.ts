import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "@/lib/errors";
import { fetchCapped, parseBlueprint, resolvePolicy, ResourceResolver, DEFAULT_POLICY } from "@/lib/blueprint";

/** A loopback-only server: these tests never touch the real network. */
let server: http.Server;
let base: string;
let hits: Record<string, number> = {};
let savedAllow: string | undefined;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const url = req.url ?? "/";
    hits[url] = (hits[url] ?? 0) + 1;
    if (url === "/small") {
      res.writeHead(200, { "content-type": "application/octet-stream" });
      res.end(Buffer.alloc(100, 7));
    } else if (url === "/declared-big") {
      res.writeHead(200, { "content-length": String(2 * 1024 * 1024) });
      res.end(Buffer.alloc(2 * 1024 * 1024));
    } else if (url === "/chunked-big") {
      // No Content-Length: only counting the stream can stop this.
      res.writeHead(200, { "transfer-encoding": "chunked" });
      let sent = 0;
      const push = () => {
        while (sent < 4 * 1024 * 1024) {
          sent += 64 * 1024;
          if (!res.write(Buffer.alloc(64 * 1024))) {
            res.once("drain", push);
            return;
          }
        }
        res.end();
      };
      push();
    } else if (url === "/redirect") {
      res.writeHead(302, { location: "/small" });
      res.end();
    } else {
      res.writeHead(404);
      res.end("nope");
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  // Downloads reach public addresses only; this loopback server is let through by name and port.
  savedAllow = process.env.MDIND_BLUEPRINT_ALLOW_HOSTS;
  process.env.MDIND_BLUEPRINT_ALLOW_HOSTS = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  if (savedAllow === undefined) delete process.env.MDIND_BLUEPRINT_ALLOW_HOSTS;
  else process.env.MDIND_BLUEPRINT_ALLOW_HOSTS = savedAllow;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

const MiB = 1024 * 1024;

describe("policy defaults", () => {
  it("is safe by default", () => {
    expect(DEFAULT_POLICY).toMatchObject({ allowUnsafe: false, allowUrls: false, maxResourceBytes: 20 * MiB });
    expect(() => resolvePolicy({ allowUrls: "yes" as unknown as boolean })).toThrow(ValidationError);
    expect(() => resolvePolicy({ nope: 1 } as never)).toThrow(/unknown blueprint policy option/);
  });

  it("refuses url resources at parse time unless allowed", () => {
    const doc = JSON.stringify({ resources: { b: { url: `${base}/small` } }, steps: [{ step: "restoreCourse", data: "@b" }] });
    expect(() => parseBlueprint(doc)).toThrow(/policy.allowUrls/);
    expect(parseBlueprint(doc, { policy: { allowUrls: true } }).steps[0].args.data).toEqual({ url: `${base}/small` });
  });

  it("refuses non-http URLs and embedded credentials even when URLs are allowed", () => {
    const policy = { allowUrls: true };
    for (const url of ["file:///etc/passwd", "ftp://example.com/x", "gopher://x", "http://user:pw@example.com/x"]) {
      expect(() => parseBlueprint(JSON.stringify({ resources: { b: { url } }, steps: [] }), { policy })).toThrow(ValidationError);
    }
  });

  it("refuses oversized inline resources at parse time", () => {
    const big = Buffer.alloc(2048).toString("base64");
    expect(() => parseBlueprint(JSON.stringify({ resources: { b: { base64: big } }, steps: [] }), { policy: { maxResourceBytes: 1024 } })).toThrow(
      /larger than the 1024-byte limit/,
    );
  });
});

describe("ResourceResolver", () => {
  it("decodes base64, data-url and literal", async () => {
    const r = new ResourceResolver();
    expect((await r.resolve({ base64: Buffer.from("hi there").toString("base64") })).toString()).toBe("hi there");
    expect((await r.resolve({ "data-url": "data:text/plain;base64,aGk=" })).toString()).toBe("hi");
    expect((await r.resolve({ "data-url": "data:,a%20b" })).toString()).toBe("a b");
    expect((await r.resolve({ literal: "text" })).toString()).toBe("text");
    expect((await r.resolve({ literal: { a: 1 } })).toString()).toBe('{"a":1}');
  });

  it("refuses url resources unless the policy allows them", async () => {
    const r = new ResourceResolver();
    await expect(r.resolve({ url: `${base}/small` })).rejects.toThrow(/policy.allowUrls/);
    expect(hits["/small"] ?? 0).toBe(0);
  });

  it("refuses vfs and bundled-without-bundle", async () => {
    const r = new ResourceResolver();
    await expect(r.resolve({ vfs: "/x" } as never)).rejects.toThrow(/'vfs' resources/);
    await expect(r.resolve({ bundled: "a.txt" })).rejects.toThrow(/needs a blueprint bundle/);
  });

  it("downloads from 127.0.0.1 and caches per run", async () => {
    hits = {};
    const r = new ResourceResolver({ policy: resolvePolicy({ allowUrls: true }) });
    const [a, b] = await Promise.all([r.resolve({ url: `${base}/small` }), r.resolve({ url: `${base}/small` })]);
    expect(a.length).toBe(100);
    expect(b).toBe(a);
    await r.resolve({ url: `${base}/small` });
    expect(hits["/small"]).toBe(1);
    expect(r.size).toBe(1);
  });

  it("follows redirects and reports HTTP errors", async () => {
    const r = new ResourceResolver({ policy: resolvePolicy({ allowUrls: true }) });
    expect((await r.resolve({ url: `${base}/redirect` })).length).toBe(100);
    await expect(r.resolve({ url: `${base}/missing` })).rejects.toThrow(/answered HTTP 404/);
  });

  it("enforces the size cap from Content-Length and while streaming", async () => {
    const r = new ResourceResolver({ policy: resolvePolicy({ allowUrls: true, maxResourceBytes: MiB }) });
    await expect(r.resolve({ url: `${base}/declared-big` })).rejects.toThrow(/over the 1048576-byte limit/);
    await expect(r.resolve({ url: `${base}/chunked-big` })).rejects.toThrow(/exceeded the 1048576-byte limit/);
    // Failures are not cached.
    expect(r.size).toBe(0);
  });

  it("fetchCapped refuses non-http schemes outright", async () => {
    await expect(fetchCapped("file:///etc/passwd", { maxBytes: 10, timeoutMs: 1000 })).rejects.toThrow(ValidationError);
  });

  it("reads bundled files through the bundle with the cap", async () => {
    const seen: Array<[string, number]> = [];
    const r = new ResourceResolver({
      bundle: {
        readFile: async (p, max) => {
          seen.push([p, max]);
          return Buffer.from("bundled!");
        },
      },
    });
    expect((await r.resolve({ bundled: "./res/a.txt" })).toString()).toBe("bundled!");
    expect(seen).toEqual([["res/a.txt", 20 * MiB]]);
  });
});
