import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

/** instances/downloads.ts: one-time, expiring, token-named export files for the browser. */
const home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-dl-unit-"));
process.env.MDIND_HOME = home;
afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
const dir = path.join(home, "cache", "downloads");

describe("downloads", () => {
  it("hands out a packed file by name and token, and refuses hostile or unknown tokens and names", async () => {
    const d = await import("../../instances/downloads");
    const token = d.newDownloadToken();
    expect(token).toMatch(/^[0-9a-f]{32}$/);
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(path.join(dir, `site1.${token}.tar.gz`), "x".repeat(10));
    expect(d.takeDownload("site1", token)).toMatchObject({ bytes: 10, filename: "site1.moodle-dind.tar.gz" });
    for (const bad of ["", "../../state/auth", `${token}/..`, token.toUpperCase(), `${token}0`, "%2e%2e", token.slice(1)]) {
      expect(() => d.takeDownload("site1", bad), bad).toThrow(/no such download/);
    }
    expect(() => d.takeDownload("other", token)).toThrow(/no such download/);
    expect(() => d.takeDownload("../x", token)).toThrow();
  });

  it("never follows a link planted at the file's name", async () => {
    const d = await import("../../instances/downloads");
    const token = d.newDownloadToken();
    fs.symlinkSync("/etc/passwd", path.join(dir, `site2.${token}.tar.gz`));
    expect(() => d.takeDownload("site2", token)).toThrow(/no such download/);
  });

  it("sweeps files older than an hour, keeps fresh ones, and drop removes one", async () => {
    const d = await import("../../instances/downloads");
    const [old, fresh] = [d.newDownloadToken(), d.newDownloadToken()];
    const oldFile = path.join(dir, `s3.${old}.tar.gz`);
    const freshFile = path.join(dir, `s3.${fresh}.tar.gz`);
    fs.writeFileSync(oldFile, "o");
    fs.writeFileSync(freshFile, "f");
    const past = new Date(Date.now() - d.DOWNLOAD_TTL_MS - 60_000);
    fs.utimesSync(oldFile, past, past);
    expect(() => d.takeDownload("s3", old)).toThrow(/within an hour/);
    expect(d.sweepDownloads()).toBeGreaterThanOrEqual(1);
    expect(fs.existsSync(oldFile)).toBe(false);
    expect(fs.existsSync(freshFile)).toBe(true);
    d.dropDownload(d.takeDownload("s3", fresh).file);
    expect(fs.existsSync(freshFile)).toBe(false);
  });
});
