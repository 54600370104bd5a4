import fs from "node:fs";
import fsp from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { writeFileAtomic } from "../../lib/lock";

/** An atomic write is durable too: the data is synced before the rename, the directory after. */
describe("writeFileAtomic", () => {
  afterEach(() => vi.restoreAllMocks());

  it("fsyncs the temp file before renaming it into place, then the directory", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-atomic-"));
    const file = path.join(dir, "state.json");
    const events: string[] = [];
    const open = fsp.open.bind(fsp);
    vi.spyOn(fsp, "open").mockImplementation(async (p, flags, mode) => {
      const fh = await open(p, flags, mode);
      const sync = fh.sync.bind(fh);
      fh.sync = async () => {
        events.push(`sync ${p === dir ? "dir" : path.basename(String(p)).endsWith(".tmp") ? "tmp" : String(p)}`);
        return sync();
      };
      return fh;
    });
    const rename = fsp.rename.bind(fsp);
    vi.spyOn(fsp, "rename").mockImplementation(async (a, b) => {
      events.push("rename");
      return rename(a, b);
    });
    await writeFileAtomic(file, '{"a":1}\n', 0o600);
    expect(events).toEqual(["sync tmp", "rename", "sync dir"]);
    expect(fs.readFileSync(file, "utf8")).toBe('{"a":1}\n');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readdirSync(dir)).toEqual(["state.json"]);
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("keeps concurrent writes in one process apart (no shared temp name)", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-atomic-"));
    const file = path.join(dir, "x.json");
    await Promise.all(Array.from({ length: 20 }, (_, i) => writeFileAtomic(file, `${i}`)));
    expect(fs.readdirSync(dir)).toEqual(["x.json"]);
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
