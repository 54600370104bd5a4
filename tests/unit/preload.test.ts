import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { pack } from "tar-stream";
import { afterAll, describe, expect, it } from "vitest";
import { configId, MalformedTarError, readTarManifest } from "../../lib/images/preload";

const dir = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-preload-"));
afterAll(() => fs.rm(dir, { recursive: true, force: true }));

const CONFIG = "a".repeat(64);

/** A `docker save`-shaped archive: a big layer first, manifest.json last (as the engine writes it). */
async function makeTar(name: string, entries: { name: string; body: Buffer }[]): Promise<string> {
  const p = pack();
  const chunks: Buffer[] = [];
  p.on("data", (c: unknown) => {
    chunks.push(c as Buffer);
  });
  const done = new Promise<void>((r) => p.on("end", () => r()));
  for (const e of entries) p.entry({ name: e.name, size: e.body.length }, e.body);
  p.finalize();
  await done;
  const file = path.join(dir, name);
  await fs.writeFile(file, Buffer.concat(chunks));
  return file;
}

const manifest = Buffer.from(JSON.stringify([{ Config: `${CONFIG}.json`, RepoTags: ["mdind-test/tiny:1"], Layers: ["l/layer.tar"] }]));
const layer = Buffer.alloc(3 * 1024 * 1024, 7);

describe("preload tar scanning", () => {
  it("finds manifest.json behind a large layer and derives the image id", async () => {
    const f = await makeTar("ok.tar", [
      { name: "l/layer.tar", body: layer },
      { name: `${CONFIG}.json`, body: Buffer.from("{}") },
      { name: "manifest.json", body: manifest },
    ]);
    const m = await readTarManifest(f);
    expect(m[0].RepoTags).toEqual(["mdind-test/tiny:1"]);
    expect(configId(m[0])).toBe(`sha256:${CONFIG}`);
    expect(configId({ Config: `blobs/sha256/${CONFIG}`, RepoTags: null, Layers: [] })).toBe(`sha256:${CONFIG}`);
  });

  it("reports a truncated archive as malformed", async () => {
    const full = await fs.readFile(path.join(dir, "ok.tar"));
    const cut = path.join(dir, "cut.tar");
    await fs.writeFile(cut, full.subarray(0, 2 * 1024 * 1024));
    await expect(readTarManifest(cut)).rejects.toBeInstanceOf(MalformedTarError);
    // Cut right after the last entry: the end-of-archive blocks are missing.
    await fs.writeFile(cut, full.subarray(0, full.length - 1024));
    await expect(readTarManifest(cut)).rejects.toThrow(/truncated|manifest/);
  });

  it("reports garbage and archives without a manifest", async () => {
    const junk = path.join(dir, "junk.tar");
    await fs.writeFile(junk, Buffer.from("this is not a tar file at all".repeat(100)));
    await expect(readTarManifest(junk)).rejects.toBeInstanceOf(MalformedTarError);
    const none = await makeTar("none.tar", [{ name: "hello.txt", body: Buffer.from("hi") }]);
    await expect(readTarManifest(none)).rejects.toThrow(/no manifest\.json/);
    const bad = await makeTar("badjson.tar", [{ name: "manifest.json", body: Buffer.from("{nope") }]);
    await expect(readTarManifest(bad)).rejects.toThrow(/not valid JSON/);
  });

  it("reads long names through pax headers", async () => {
    const long = `${"d".repeat(120)}/layer.tar`;
    const f = await makeTar("long.tar", [
      { name: long, body: Buffer.from("x") },
      { name: "manifest.json", body: manifest },
    ]);
    expect((await readTarManifest(f))[0].Layers).toEqual(["l/layer.tar"]);
  });
});
