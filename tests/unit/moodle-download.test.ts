import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { gzipSync } from "node:zlib";
import { pack } from "tar-stream";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { AppError, ValidationError } from "../../lib/errors";
import { downloadBaseUrl, downloadMoodle, packagePaths, type DownloadProgress, type PartialSidecar } from "../../lib/moodle/download";

// ----------------------------------------------------------------------------------------------
// Fixtures: a small but real Moodle-shaped .tgz, and a local server laid out like download.moodle.org

const VERSION_PHP = "<?php\n$branch = '405';\n$release = '4.5.5 (Build: 20250613)';\n$version = 2024100705.00;\n";

async function makeTgz(entries: { name: string; body: Buffer }[]): Promise<Buffer> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => p.on("end", () => r()));
  for (const e of entries) p.entry({ name: e.name, size: e.body.length }, e.body);
  p.finalize();
  await done;
  return gzipSync(Buffer.concat(chunks));
}

const sha256 = (b: Buffer) => createHash("sha256").update(b).digest("hex");
const md5 = (b: Buffer) => createHash("md5").update(b).digest("hex");

let tgz: Buffer; // ~300 KiB, incompressible padding so halves and progress are meaningful
let noVersionTgz: Buffer;

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
let routes: Record<string, Handler> = {};
const seen: { url: string; headers: http.IncomingHttpHeaders }[] = [];
let server: http.Server;
let base: string;

/** Serve a buffer; optional Range support with an ETag, optional slow chunked delivery. */
function file(body: Buffer, o: { range?: boolean; etag?: string; slowMs?: number; chunks?: number } = {}): Handler {
  return (req, res) => {
    const etag = o.etag ?? '"v1"';
    const headers: Record<string, string> = { "content-type": "application/x-gzip", etag };
    let start = 0;
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
    const ifRange = req.headers["if-range"];
    if (o.range && m && (!ifRange || ifRange === etag)) {
      start = Number(m[1]);
      if (start >= body.length) {
        res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
        return;
      }
      headers["content-range"] = `bytes ${start}-${body.length - 1}/${body.length}`;
    }
    const part = body.subarray(start);
    headers["content-length"] = String(part.length);
    res.writeHead(start > 0 ? 206 : 200, headers);
    if (!o.slowMs) return void res.end(part);
    const n = o.chunks ?? 5;
    const step = Math.ceil(part.length / n);
    let i = 0;
    const tick = () => {
      if (res.destroyed) return;
      const piece = part.subarray(i * step, (i + 1) * step);
      i++;
      if (i >= n) return void res.end(piece);
      res.write(piece);
      setTimeout(tick, o.slowMs);
    };
    tick();
  };
}
const text = (body: string): Handler => (_req, res) => void res.writeHead(200, { "content-type": "text/plain" }).end(body);
const status = (code: number): Handler => (_req, res) => void res.writeHead(code).end(`status ${code}`);

/** A normal published package: archive + matching .sha256. */
function publish(p: string, body: Buffer, o: Parameters<typeof file>[1] = {}) {
  routes[`/${p}`] = file(body, o);
  routes[`/${p}.sha256`] = text(`${sha256(body)}  ${path.posix.basename(p)}\n`);
}

let dir: string;
let savedEnv: string | undefined;

beforeAll(async () => {
  tgz = await makeTgz([
    { name: "moodle/version.php", body: Buffer.from(VERSION_PHP) },
    { name: "moodle/config-dist.php", body: Buffer.from("<?php\n") },
    { name: "moodle/lib/padding.bin", body: randomBytes(300 * 1024) },
  ]);
  noVersionTgz = await makeTgz([{ name: "moodle/README.txt", body: Buffer.from("not moodle") }]);
  server = http.createServer((req, res) => {
    seen.push({ url: req.url ?? "", headers: req.headers });
    const h = routes[(req.url ?? "").split("?")[0]];
    if (h) h(req, res);
    else res.writeHead(404).end("not found");
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
  base = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  savedEnv = process.env.MDIND_MOODLE_DOWNLOAD_URL;
});

afterAll(async () => {
  if (savedEnv === undefined) delete process.env.MDIND_MOODLE_DOWNLOAD_URL;
  else process.env.MDIND_MOODLE_DOWNLOAD_URL = savedEnv;
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

beforeEach(async () => {
  routes = {};
  seen.length = 0;
  process.env.MDIND_MOODLE_DOWNLOAD_URL = base;
  dir = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-dl-"));
});

afterEach(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

const ls = () => fs.readdir(dir);

async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected the download to fail");
}

// ----------------------------------------------------------------------------------------------

describe("downloadMoodle", () => {
  it("downloads, verifies the published sha256 and reports growing progress", async () => {
    publish("stable405/moodle-latest-405.tgz", tgz, { slowMs: 250, chunks: 5 });
    const progress: DownloadProgress[] = [];
    const r = await downloadMoodle("4.5", { dir, onProgress: (p) => progress.push(p) });
    expect(r.checksum).toBe("verified");
    expect(r.url).toBe(`${base}/stable405/moodle-latest-405.tgz`);
    expect(r.file).toBe(path.join(dir, "moodle-latest-405.tgz"));
    expect(r.sha256).toBe(sha256(tgz));
    expect(r.bytes).toBe(tgz.length);
    expect(sha256(await fs.readFile(r.file))).toBe(sha256(tgz));
    expect(await ls()).toEqual(["moodle-latest-405.tgz"]); // no .partial, no sidecar
    expect(progress.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < progress.length; i++) expect(progress[i].bytes).toBeGreaterThanOrEqual(progress[i - 1].bytes);
    expect(progress[0].bytes).toBeLessThan(tgz.length);
    expect(progress.at(-1)).toMatchObject({ bytes: tgz.length, total: tgz.length, resumedFrom: 0 });
    expect(progress.at(-1)!.rate).toBeGreaterThan(0);
  });

  it("downloads an exact release from its stable branch folder", async () => {
    publish("stable405/moodle-4.5.5.tgz", tgz);
    const r = await downloadMoodle("4.5.5", { dir });
    expect(r.file).toBe(path.join(dir, "moodle-4.5.5.tgz"));
    expect(r.checksum).toBe("verified");
  });

  it("accepts a base URL with a trailing slash", async () => {
    process.env.MDIND_MOODLE_DOWNLOAD_URL = `${base}/`;
    publish("stable405/moodle-4.5.5.tgz", tgz);
    const r = await downloadMoodle("4.5.5", { dir });
    expect(r.url).toBe(`${base}/stable405/moodle-4.5.5.tgz`);
  });

  it("refuses a checksum mismatch and keeps nothing", async () => {
    routes["/stable405/moodle-latest-405.tgz"] = file(tgz);
    routes["/stable405/moodle-latest-405.tgz.sha256"] = text(`${"0".repeat(64)}  moodle-latest-405.tgz\n`);
    const e = await failure(downloadMoodle("4.5", { dir }));
    expect(e).toBeInstanceOf(AppError);
    expect(e.message).toContain("checksum mismatch");
    expect(e.message).toContain(`expected ${"0".repeat(64)}, got ${sha256(tgz)}`);
    expect(e.message).toContain("the download was discarded");
    expect(await ls()).toEqual([]);
  });

  it("verifies with the older .md5 when no .sha256 is published, and refuses an md5 mismatch", async () => {
    routes["/stable405/moodle-4.5.1.tgz"] = file(tgz);
    routes["/stable405/moodle-4.5.1.tgz.md5"] = text(`${md5(tgz)}  moodle-4.5.1.tgz\n`);
    expect((await downloadMoodle("4.5.1", { dir })).checksum).toBe("verified");

    routes["/stable405/moodle-4.5.2.tgz"] = file(tgz);
    routes["/stable405/moodle-4.5.2.tgz.md5"] = text(`${"f".repeat(32)}\n`);
    const e = await failure(downloadMoodle("4.5.2", { dir }));
    expect(e.message).toContain("checksum mismatch");
    expect(await ls()).toEqual(["moodle-4.5.1.tgz"]);
  });

  it("reports checksum none-published when neither .sha256 nor .md5 exists", async () => {
    routes["/stable405/moodle-4.5.5.tgz"] = file(tgz);
    const r = await downloadMoodle("4.5.5", { dir });
    expect(r.checksum).toBe("none-published");
    expect(r.sha256).toBe(sha256(tgz));
    expect(seen.map((s) => s.url)).toEqual([
      "/stable405/moodle-4.5.5.tgz",
      "/stable405/moodle-4.5.5.tgz.sha256",
      "/stable405/moodle-4.5.5.tgz.md5",
    ]);
  });

  it("treats a failing checksum fetch (not 404) as an error", async () => {
    routes["/stable405/moodle-4.5.5.tgz"] = file(tgz);
    routes["/stable405/moodle-4.5.5.tgz.sha256"] = status(500);
    const e = await failure(downloadMoodle("4.5.5", { dir }));
    expect(e.message).toContain("HTTP 500");
    expect(e.message).toContain(".sha256");
    expect(await ls()).toEqual([]);
  });

  it("refuses a connection cut before Content-Length was reached and keeps nothing", async () => {
    routes["/stable405/moodle-latest-405.tgz"] = (_req, res) => {
      res.writeHead(200, { "content-length": String(tgz.length) });
      res.write(tgz.subarray(0, tgz.length >> 1), () => res.socket?.destroy());
    };
    const e = await failure(downloadMoodle("4.5", { dir }));
    expect(e).toBeInstanceOf(AppError);
    expect(e.message).toMatch(/cut off after \d+ of \d+ bytes/);
    expect(await ls()).toEqual([]);
  });

  it("refuses a cut gzip served with a matching Content-Length and no checksum", async () => {
    const cut = tgz.subarray(0, tgz.length - 200);
    routes["/stable405/moodle-4.5.3.tgz"] = file(cut);
    const e = await failure(downloadMoodle("4.5.3", { dir }));
    expect(e.message).toContain("not a complete gzip tar archive");
    expect(await ls()).toEqual([]);
  });

  it("refuses a valid archive that is not a Moodle package", async () => {
    publish("stable405/moodle-4.5.3.tgz", noVersionTgz);
    const e = await failure(downloadMoodle("4.5.3", { dir }));
    expect(e.message).toContain("no version.php");
    expect(await ls()).toEqual([]);
  });

  it("accepts the 5.1+ layout with moodle/public/version.php", async () => {
    const t51 = await makeTgz([{ name: "moodle/public/version.php", body: Buffer.from("<?php\n$branch = '501';\n") }]);
    publish("stable501/moodle-latest-501.tgz", t51);
    const r = await downloadMoodle("5.1", { dir });
    expect(r.checksum).toBe("verified");
    expect(r.file).toBe(path.join(dir, "moodle-latest-501.tgz"));
  });

  it("says a version is not published on 404, with the URL", async () => {
    const e = await failure(downloadMoodle("4.5.99", { dir }));
    expect(e).toBeInstanceOf(AppError);
    expect((e as AppError).kind).toBe("not_found");
    expect(e.message).toContain("Moodle 4.5.99 is not published at");
    expect(e.message).toContain(`${base}/stable405/moodle-4.5.99.tgz (404)`);
    expect(e.message).toContain("moodle-dind moodle add PATH");
    expect(e.message.split("\n")).toHaveLength(1);
    expect(await ls()).toEqual([]);
  });

  it("names status and URL for other HTTP errors", async () => {
    routes["/stable405/moodle-latest-405.tgz"] = status(503);
    const e = await failure(downloadMoodle("4.5", { dir }));
    expect(e.message).toBe(`Download of ${base}/stable405/moodle-latest-405.tgz failed: HTTP 503 Service Unavailable`);
  });

  it("says 'No network' when the connection is refused", async () => {
    // A port that was just free: nothing listens there, so the connect is refused.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    process.env.MDIND_MOODLE_DOWNLOAD_URL = `http://127.0.0.1:${port}`;
    const e = await failure(downloadMoodle("4.5", { dir }));
    expect(e.message).toMatch(new RegExp(`^No network: could not reach 127\\.0\\.0\\.1:${port} \\(ECONNREFUSED\\)\\.`));
    expect(e.message).toContain("MDIND_MOODLE_DOWNLOAD_URL");
    expect(await ls()).toEqual([]);
  });

  it("says 'No network' when the host name does not resolve", async () => {
    process.env.MDIND_MOODLE_DOWNLOAD_URL = "http://no-such-host.invalid";
    const e = await failure(downloadMoodle("4.5", { dir }));
    expect(e.message).toMatch(/^No network: could not reach no-such-host\.invalid \((ENOTFOUND|EAI_AGAIN|connect timeout)\)/);
  });

  it("explains fetch's blocked port 1 instead of failing obscurely", async () => {
    // Node's fetch never connects to port 1 ("bad port" in the fetch standard), so it cannot
    // stand in for "connection refused"; it gets its own clear message.
    process.env.MDIND_MOODLE_DOWNLOAD_URL = "http://127.0.0.1:1";
    const e = await failure(downloadMoodle("4.5", { dir }));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.message).toContain("bad port");
  });

  it("times out when the server never answers", async () => {
    routes["/stable405/moodle-latest-405.tgz"] = () => {}; // never respond
    const e = await failure(downloadMoodle("4.5", { dir, connectTimeoutMs: 300 }));
    expect(e.message).toMatch(/^No network: could not reach 127\.0\.0\.1:\d+ \(connect timeout\)/);
  });

  it("gives up on a stalled transfer but keeps the partial, then resumes it", async () => {
    const half = tgz.length >> 1;
    routes["/stable405/moodle-latest-405.tgz"] = (_req, res) => {
      res.writeHead(200, { "content-length": String(tgz.length), etag: '"v1"' });
      res.write(tgz.subarray(0, half)); // then stall
    };
    const e = await failure(downloadMoodle("4.5", { dir, idleTimeoutMs: 300 }));
    expect(e.message).toContain("idle timeout");
    expect((await ls()).sort()).toEqual(["moodle-latest-405.tgz.partial", "moodle-latest-405.tgz.partial.json"]);
    expect((await fs.stat(path.join(dir, "moodle-latest-405.tgz.partial"))).size).toBe(half);

    publish("stable405/moodle-latest-405.tgz", tgz, { range: true });
    seen.length = 0;
    const progress: DownloadProgress[] = [];
    const r = await downloadMoodle("4.5", { dir, onProgress: (p) => progress.push(p) });
    expect(seen[0].headers.range).toBe(`bytes=${half}-`);
    expect(seen[0].headers["if-range"]).toBe('"v1"');
    expect(r.checksum).toBe("verified");
    expect(r.bytes).toBe(tgz.length);
    expect(progress.at(-1)).toMatchObject({ bytes: tgz.length, total: tgz.length, resumedFrom: half });
    expect(await ls()).toEqual(["moodle-latest-405.tgz"]);
  });

  it("keeps the partial when the caller aborts, and resumes from it", async () => {
    publish("stable405/moodle-latest-405.tgz", tgz, { range: true, slowMs: 300, chunks: 6 });
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(), 700); // after two or three of the six chunks
    const e = await failure(downloadMoodle("4.5", { dir, signal: ctl.signal }));
    expect(e.name).toBe("AbortError");
    const kept = (await fs.stat(path.join(dir, "moodle-latest-405.tgz.partial"))).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(tgz.length);
    publish("stable405/moodle-latest-405.tgz", tgz, { range: true });
    seen.length = 0;
    const r = await downloadMoodle("4.5", { dir });
    expect(seen[0].headers.range).toBe(`bytes=${kept}-`);
    expect(r.sha256).toBe(sha256(tgz));
  });

  describe("resume from a pre-written partial", () => {
    const url = () => `${base}/stable405/moodle-latest-405.tgz`;
    async function prewrite(etag = '"v1"', bytes = tgz.subarray(0, tgz.length >> 1)) {
      await fs.writeFile(path.join(dir, "moodle-latest-405.tgz.partial"), bytes);
      const side: PartialSidecar = { url: url(), etag, lastModified: null };
      await fs.writeFile(path.join(dir, "moodle-latest-405.tgz.partial.json"), JSON.stringify(side));
    }

    it("sends Range + If-Range, appends the 206 and verifies", async () => {
      await prewrite();
      publish("stable405/moodle-latest-405.tgz", tgz, { range: true });
      const r = await downloadMoodle("4.5", { dir });
      expect(seen[0].headers.range).toBe(`bytes=${tgz.length >> 1}-`);
      expect(seen[0].headers["if-range"]).toBe('"v1"');
      expect(r.checksum).toBe("verified");
      expect(r.sha256).toBe(sha256(tgz));
      expect(sha256(await fs.readFile(r.file))).toBe(sha256(tgz));
      expect(await ls()).toEqual(["moodle-latest-405.tgz"]);
    });

    it("starts over when the server ignores Range (200)", async () => {
      await prewrite();
      publish("stable405/moodle-latest-405.tgz", tgz, { range: false });
      const r = await downloadMoodle("4.5", { dir });
      expect(seen[0].headers.range).toBeDefined();
      expect(r.checksum).toBe("verified");
      expect(sha256(await fs.readFile(r.file))).toBe(sha256(tgz));
    });

    it("starts over when the file changed on the server (If-Range mismatch)", async () => {
      await prewrite('"old"', Buffer.alloc(tgz.length >> 1, 7)); // bytes of some older build
      publish("stable405/moodle-latest-405.tgz", tgz, { range: true, etag: '"new"' });
      const r = await downloadMoodle("4.5", { dir });
      expect(seen[0].headers["if-range"]).toBe('"old"');
      expect(r.sha256).toBe(sha256(tgz));
    });

    it("starts over on 416 (partial already as long as the file)", async () => {
      await prewrite('"v1"', tgz);
      publish("stable405/moodle-latest-405.tgz", tgz, { range: true });
      const r = await downloadMoodle("4.5", { dir });
      expect(seen.filter((s) => s.url === "/stable405/moodle-latest-405.tgz")).toHaveLength(2);
      expect(r.sha256).toBe(sha256(tgz));
    });

    it("keeps the partial through transient failures (503, no answer) and resumes later", async () => {
      await prewrite();
      routes["/stable405/moodle-latest-405.tgz"] = status(503);
      expect((await failure(downloadMoodle("4.5", { dir }))).message).toContain("HTTP 503");
      routes["/stable405/moodle-latest-405.tgz"] = () => {}; // never answers
      expect((await failure(downloadMoodle("4.5", { dir, connectTimeoutMs: 300 }))).message).toContain("connect timeout");
      expect((await ls()).sort()).toEqual(["moodle-latest-405.tgz.partial", "moodle-latest-405.tgz.partial.json"]);
      publish("stable405/moodle-latest-405.tgz", tgz, { range: true });
      seen.length = 0;
      const r = await downloadMoodle("4.5", { dir });
      expect(seen[0].headers.range).toBe(`bytes=${tgz.length >> 1}-`);
      expect(r.sha256).toBe(sha256(tgz));
    });

    it("discards the partial on 404", async () => {
      await prewrite();
      await failure(downloadMoodle("4.5", { dir }));
      expect(await ls()).toEqual([]);
    });

    it("ignores a partial whose sidecar is for another URL", async () => {
      await prewrite();
      await fs.writeFile(path.join(dir, "moodle-latest-405.tgz.partial.json"), JSON.stringify({ url: "http://elsewhere/x", etag: '"v1"', lastModified: null }));
      publish("stable405/moodle-latest-405.tgz", tgz, { range: true });
      const r = await downloadMoodle("4.5", { dir });
      expect(seen[0].headers.range).toBeUndefined();
      expect(r.sha256).toBe(sha256(tgz));
    });
  });

  describe("hostile input", () => {
    const hostile = ["../4.5", "4.5/../../etc", "4.5.5.5", "https://x", "4.5\n", " 4.5", "4.5;rm -rf /", "", "a".repeat(10000), "4", "45", "4.555", "4.5.", ".4.5", "4.5.5\u0000"];
    it.each(hostile.map((s) => [JSON.stringify(s.slice(0, 20)), s]))("rejects spec %s with ValidationError", async (_label, spec) => {
      expect(() => packagePaths(spec)).toThrow(ValidationError);
      const e = await failure(downloadMoodle(spec, { dir }));
      expect(e).toBeInstanceOf(ValidationError);
      expect(e.message.length).toBeLessThan(200);
      expect(seen).toHaveLength(0);
    });

    it.each(["file:///etc", "ftp://x", "javascript:alert(1)", "not a url", "", "http://user:pw@127.0.0.1/", "http://127.0.0.1/?q="])(
      "refuses base URL %j",
      async (b) => {
        process.env.MDIND_MOODLE_DOWNLOAD_URL = b;
        const e = await failure(downloadMoodle("4.5", { dir }));
        expect(e).toBeInstanceOf(ValidationError);
        expect(seen).toHaveLength(0);
      },
    );
  });
});

describe("packagePaths / downloadBaseUrl", () => {
  it.each([
    ["4.1", { branch: "401", release: null, path: "stable401/moodle-latest-401.tgz" }],
    ["4.1.20", { branch: "401", release: "4.1.20", path: "stable401/moodle-4.1.20.tgz" }],
    ["4.5", { branch: "405", release: null, path: "stable405/moodle-latest-405.tgz" }],
    ["4.5.5", { branch: "405", release: "4.5.5", path: "stable405/moodle-4.5.5.tgz" }],
    ["4.10", { branch: "410", release: null, path: "stable410/moodle-latest-410.tgz" }],
    ["5.0", { branch: "500", release: null, path: "stable500/moodle-latest-500.tgz" }],
    ["5.1", { branch: "501", release: null, path: "stable501/moodle-latest-501.tgz" }],
    ["5.1.1", { branch: "501", release: "5.1.1", path: "stable501/moodle-5.1.1.tgz" }],
  ])("%s", (spec, expected) => {
    expect(packagePaths(spec)).toEqual(expected);
  });

  it("defaults to download.moodle.org and honours MDIND_MOODLE_DOWNLOAD_URL", () => {
    delete process.env.MDIND_MOODLE_DOWNLOAD_URL;
    expect(downloadBaseUrl()).toBe("https://download.moodle.org/download.php/direct");
    process.env.MDIND_MOODLE_DOWNLOAD_URL = "http://mirror.example/moodle";
    expect(downloadBaseUrl()).toBe("http://mirror.example/moodle");
  });
});
