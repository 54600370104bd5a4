import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ValidationError } from "@/lib/errors";
import { fetchCapped, parseBlueprint, ResourceResolver, resolvePolicy } from "@/lib/blueprint";
import { isPublicAddress, nonPublicReason } from "@/lib/net/public-address";
import { checkTarget, guardedGet, parseAllowHosts, RefusedTargetError, type Resolve } from "@/lib/net/guarded-get";

/**
 * Blueprint downloads reach public addresses only, even with URLs allowed: literal addresses in
 * every spelling, names (through a stub resolver), and every redirect hop. Nothing here connects
 * anywhere but the two 127.0.0.1 servers below; refused targets are refused before any connection,
 * which the second server's hit counter proves for loopback targets.
 */
let allowed: http.Server;
let forbidden: http.Server;
let allowedPort = 0;
let forbiddenPort = 0;
let forbiddenHits = 0;
let savedAllow: string | undefined;

const listen = async (s: http.Server) => {
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  return (s.address() as AddressInfo).port;
};

beforeAll(async () => {
  allowed = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://x");
    const to = url.searchParams.get("to");
    const hops = Number(url.searchParams.get("hops") ?? 0);
    if (to) {
      res.writeHead(302, { location: to });
      res.end();
    } else if (hops > 0) {
      res.writeHead(302, { location: `/loop?hops=${hops - 1}` });
      res.end();
    } else {
      res.writeHead(200, { "content-type": "text/plain" });
      res.end("ok");
    }
  });
  forbidden = http.createServer((_req, res) => {
    forbiddenHits++;
    res.end("should never be reached");
  });
  allowedPort = await listen(allowed);
  forbiddenPort = await listen(forbidden);
  savedAllow = process.env.MDIND_BLUEPRINT_ALLOW_HOSTS;
  process.env.MDIND_BLUEPRINT_ALLOW_HOSTS = `127.0.0.1:${allowedPort}`;
});

afterAll(async () => {
  if (savedAllow === undefined) delete process.env.MDIND_BLUEPRINT_ALLOW_HOSTS;
  else process.env.MDIND_BLUEPRINT_ALLOW_HOSTS = savedAllow;
  for (const s of [allowed, forbidden]) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A resolver that knows a few names and records what it was asked. */
function stub(table: Record<string, string[]>): Resolve & { asked: string[] } {
  const asked: string[] = [];
  const f = async (host: string) => {
    asked.push(host);
    const a = table[host];
    if (!a) throw new Error(`stub: no such host ${host}`);
    return a.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  return Object.assign(f, { asked });
}

const LITERALS = [
  "10.0.0.1",
  "172.16.5.4",
  "192.168.1.1",
  "127.0.0.1",
  "169.254.169.254",
  "100.64.0.1",
  "0.0.0.0",
  "224.0.0.1",
  "255.255.255.255",
  "172.20.1.2",
  "::1",
  "::",
  "fc00::1",
  "fd12:3456::1",
  "fe80::1",
  "ff02::1",
  "::ffff:127.0.0.1",
  "::ffff:10.0.0.1",
  "::ffff:7f00:1",
  "64:ff9b::a9fe:a9fe",
  "2002:c0a8:101::1",
  "2001:db8::1",
];

describe("public-address", () => {
  it.each(LITERALS)("%s is not public", (a) => {
    expect(isPublicAddress(a)).toBe(false);
    expect(nonPublicReason(a)).toMatch(/\w/);
  });

  it.each(["8.8.8.8", "93.184.215.14", "1.1.1.1", "::ffff:8.8.8.8", "2606:4700::1111", "2001:4860:4860::8888", "64:ff9b::808:808"])(
    "%s is public",
    (a) => expect(isPublicAddress(a)).toBe(true),
  );

  it("names the reason", () => {
    expect(nonPublicReason("169.254.169.254")).toBe("link-local");
    expect(nonPublicReason("100.64.0.1")).toBe("carrier-grade NAT");
    expect(nonPublicReason("::ffff:10.0.0.1")).toBe("IPv4-mapped 10.0.0.1, private");
    expect(() => nonPublicReason("localhost")).toThrow(TypeError);
  });
});

describe("checkTarget: refused before any connection", () => {
  const urls = [
    ...LITERALS.map((a) => (a.includes(":") ? `http://[${a}]/x` : `http://${a}/x`)),
    // Other spellings of 127.0.0.1 and 10.0.0.1 that URL parsing normalises: decimal, hex, octal, short.
    "http://2130706433/",
    "http://0x7f.1/",
    "http://017700000001/",
    "http://0x7f000001/",
    "http://127.1/",
    "http://0/",
    "http://012.0.0.1/",
    "https://167772161/",
  ];

  it.each(urls)("%s", async (url) => {
    const resolve = stub({});
    await expect(checkTarget(new URL(url), { resolve })).rejects.toThrow(RefusedTargetError);
    // A literal is judged as is: nothing was resolved either.
    expect(resolve.asked).toEqual([]);
  });

  it("refuses a name that resolves to a private address, or to any private one among several", async () => {
    const resolve = stub({ "intranet.example": ["192.168.1.10"], "mixed.example": ["93.184.215.14", "10.1.2.3"], "meta.example": ["169.254.169.254"] });
    await expect(checkTarget(new URL("https://intranet.example/a.zip"), { resolve })).rejects.toThrow(/resolves to 192\.168\.1\.10, a private address/);
    await expect(checkTarget(new URL("https://mixed.example/a.zip"), { resolve })).rejects.toThrow(/10\.1\.2\.3/);
    await expect(checkTarget(new URL("http://meta.example/latest"), { resolve })).rejects.toThrow(/link-local/);
  });

  it("lets a public address through, pinned to what was checked (no connection is made)", async () => {
    const resolve = stub({ "moodle.example": ["93.184.215.14"] });
    expect(await checkTarget(new URL("https://moodle.example/plugin.zip"), { resolve })).toEqual({ address: "93.184.215.14", family: 4 });
    expect(await checkTarget(new URL("https://[2606:4700::1111]/x"), { resolve })).toEqual({ address: "2606:4700::1111", family: 6 });
    expect(resolve.asked).toEqual(["moodle.example"]);
  });

  it("refuses non-http schemes", async () => {
    await expect(checkTarget(new URL("file:///etc/passwd"))).rejects.toThrow(RefusedTargetError);
    await expect(checkTarget(new URL("gopher://example.com/"))).rejects.toThrow(RefusedTargetError);
  });
});

describe("guardedGet", () => {
  const allowHosts = () => parseAllowHosts(`127.0.0.1:${allowedPort}`, "test");

  it("fetches from an allowlisted host", async () => {
    const r = await guardedGet(`http://127.0.0.1:${allowedPort}/ok`, { allowHosts: allowHosts() });
    expect(r.status).toBe(200);
    r.body.destroy();
  });

  it("refuses a loopback server that is not allowlisted, without connecting", async () => {
    forbiddenHits = 0;
    await expect(guardedGet(`http://127.0.0.1:${forbiddenPort}/`, { allowHosts: allowHosts() })).rejects.toThrow(/loopback/);
    expect(forbiddenHits).toBe(0);
  });

  it("checks every redirect hop: an allowed server redirecting to private addresses is refused at the hop", async () => {
    forbiddenHits = 0;
    const resolve = stub({ "internal.example": ["127.0.0.1"] });
    const targets = [
      `http://127.0.0.1:${forbiddenPort}/secret`,
      `http://internal.example:${forbiddenPort}/secret`,
      `http://[::ffff:127.0.0.1]:${forbiddenPort}/secret`,
      "http://10.0.0.1/",
      "http://169.254.169.254/latest/meta-data/",
      "http://2130706433/",
      "file:///etc/passwd",
    ];
    for (const to of targets) {
      const url = `http://127.0.0.1:${allowedPort}/r?to=${encodeURIComponent(to)}`;
      await expect(guardedGet(url, { allowHosts: allowHosts(), resolve }), to).rejects.toThrow(RefusedTargetError);
    }
    expect(forbiddenHits).toBe(0);
  });

  it("follows at most 5 redirects", async () => {
    const ok = await guardedGet(`http://127.0.0.1:${allowedPort}/loop?hops=5`, { allowHosts: allowHosts() });
    expect(ok.status).toBe(200);
    ok.body.destroy();
    await expect(guardedGet(`http://127.0.0.1:${allowedPort}/loop?hops=6`, { allowHosts: allowHosts() })).rejects.toThrow(/more than 5 redirects/);
  });

  it("connects to the address it checked: the name is resolved once, by us, and never again by the socket", async () => {
    // The second answer would be a rebinding to somewhere else; the name does not exist for the system resolver at all.
    let calls = 0;
    const resolve: Resolve = async () => (calls++ === 0 ? [{ address: "127.0.0.1", family: 4 }] : [{ address: "10.9.9.9", family: 4 }]);
    const r = await guardedGet(`http://pinned.invalid:${allowedPort}/ok`, { resolve, allowHosts: [`pinned.invalid:${allowedPort}`] });
    expect(r.status).toBe(200);
    r.body.destroy();
    expect(calls).toBe(1);
  });

  it("wants host:port in the allowlist", () => {
    expect(parseAllowHosts("127.0.0.1:8080, Mirror.Local:80 [::1]:9", "X")).toEqual(["127.0.0.1:8080", "mirror.local:80", "[::1]:9"]);
    for (const bad of ["127.0.0.1", "http://127.0.0.1:80", "a:99999", "u@h:1", "h:1/path"]) expect(() => parseAllowHosts(bad, "X"), bad).toThrow(/X:/);
  });
});

describe("blueprint downloads", () => {
  const policy = resolvePolicy({ allowUrls: true });

  it("refuses literal private URLs at parse time, even with URLs allowed", () => {
    for (const url of ["http://10.0.0.1/a.zip", "http://169.254.169.254/", "http://[::1]/", "http://0x7f.1/", "http://017700000001/"]) {
      const doc = JSON.stringify({ resources: { b: { url } }, steps: [] });
      expect(() => parseBlueprint(doc, { policy }), url).toThrow(/may only reach public addresses/);
    }
  });

  it("refuses at download time: names, literals, redirects", async () => {
    const resolve = stub({ "evil.example": ["127.0.0.1"] });
    const r = new ResourceResolver({ policy, net: { resolve } });
    await expect(r.resolve({ url: `http://evil.example:${forbiddenPort}/x` })).rejects.toThrow(/resolves to 127\.0\.0\.1, a loopback address/);
    const hop = `http://127.0.0.1:${allowedPort}/r?to=${encodeURIComponent(`http://evil.example:${forbiddenPort}/x`)}`;
    await expect(r.resolve({ url: hop })).rejects.toThrow(ValidationError);
    await expect(fetchCapped("http://[fe80::1]/", { maxBytes: 10, timeoutMs: 1000 })).rejects.toThrow(/link-local/);
    expect(forbiddenHits).toBe(0);
  });

  it("reads the allowlist at call time", async () => {
    const url = `http://127.0.0.1:${allowedPort}/ok`;
    const saved = process.env.MDIND_BLUEPRINT_ALLOW_HOSTS;
    try {
      delete process.env.MDIND_BLUEPRINT_ALLOW_HOSTS;
      await expect(fetchCapped(url, { maxBytes: 10, timeoutMs: 1000 })).rejects.toThrow(/loopback/);
      process.env.MDIND_BLUEPRINT_ALLOW_HOSTS = `127.0.0.1:${allowedPort}`;
      expect((await fetchCapped(url, { maxBytes: 10, timeoutMs: 1000 })).toString()).toBe("ok");
      process.env.MDIND_BLUEPRINT_ALLOW_HOSTS = "127.0.0.1";
      await expect(fetchCapped(url, { maxBytes: 10, timeoutMs: 1000 })).rejects.toThrow(/explicit port/);
    } finally {
      if (saved === undefined) delete process.env.MDIND_BLUEPRINT_ALLOW_HOSTS;
      else process.env.MDIND_BLUEPRINT_ALLOW_HOSTS = saved;
    }
  });
});
