import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLoginLink } from "../../instances/login";
import { LinkRefusedError } from "../../lib/nofollow";
import { cli, tempHome } from "../helpers/cli";

/**
 * "Open as admin" against a real fixture instance on Apache (the e2e covers nginx): the entry
 * moodle-dind mounts read-only logs the admin in once, and refuses expired, over-long, reused,
 * malformed and tampered tokens, and a token folder the site's PHP replaced by a link. The host
 * side refuses to write through such a link too.
 */
const home = tempHome("mdind-login-link-");
const NAME = `login-${process.pid.toString(36).slice(-4)}`;
const saved = process.env.MDIND_HOME;
let dir = "";

async function get(url: string, cookie?: string): Promise<{ status: number; location: string | null; cookie: string | null; body: string }> {
  const res = await fetch(url, { redirect: "manual", headers: cookie ? { cookie } : {} });
  // The last Set-Cookie wins, as in a browser (a regenerated session id follows the first one).
  return { status: res.status, location: res.headers.get("location"), cookie: res.headers.getSetCookie().at(-1) ?? null, body: await res.text() };
}

/** The token file of a link (its name is the token's SHA-256), rewritten as the site's PHP could. */
function tokenFile(): string {
  const files = fs.readdirSync(dir).filter((f) => f.endsWith(".json"));
  expect(files).toHaveLength(1);
  return path.join(dir, files[0]);
}

describe("one-time admin login link", () => {
  beforeAll(async () => {
    const r = await cli(["create", NAME, "--moodle", "fixture", "--web", "apache", "--json"], { MDIND_HOME: home });
    if (r.code !== 0) throw new Error(`create failed: ${r.stderr}`);
    process.env.MDIND_HOME = home;
    dir = path.join(home, "instances", NAME, "data", "moodledata", ".mdind-login");
  }, 600_000);
  afterAll(async () => {
    process.env.MDIND_HOME = saved;
    await cli(["remove", NAME, "--yes"], { MDIND_HOME: home });
    fs.rmSync(home, { recursive: true, force: true });
  }, 300_000);

  it("logs the admin in once; the same link again is refused and no token is left", async () => {
    const { url, expiresAt } = await createLoginLink(NAME);
    expect(Date.parse(expiresAt) - Date.now()).toBeLessThanOrEqual(60_000);
    const first = await get(url);
    expect(first.status).toBe(303);
    expect(first.location).toMatch(/\/my\/$/);
    const session = first.cookie!.split(";")[0];
    const my = await get(first.location!, session);
    expect(my.body).toContain("You are logged in as admin");
    expect((await get(url)).status).toBe(403);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("the CLI's login-link prints a link that works once, and its --json form the expiry", async () => {
    const r = await cli(["login-link", NAME, "--json"], { MDIND_HOME: home });
    expect(r.code).toBe(0);
    const { url, expiresAt } = JSON.parse(r.stdout) as { url: string; expiresAt: string };
    expect(Date.parse(expiresAt)).toBeGreaterThan(Date.now());
    expect((await get(url)).status).toBe(303);
    expect((await get(url)).status).toBe(403);
    const plain = await cli(["login-link", NAME], { MDIND_HOME: home });
    expect(plain.stdout.trim()).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/mdind-login\.php\?t=[A-Za-z0-9_-]{43}$/);
    expect((await get(plain.stdout.trim())).status).toBe(303);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("refuses malformed and unknown tokens", async () => {
    const { url } = await createLoginLink(NAME);
    const base = url.slice(0, url.indexOf("?"));
    for (const t of ["", "short", "../../../etc/passwd", "A".repeat(43), `${"A".repeat(42)}/`, "%00".repeat(20)]) {
      expect((await get(`${base}?t=${t}`)).status, t).toBe(403);
    }
    expect((await get(`${base}?t[]=x`)).status).toBe(403);
    // The real token still works afterwards: guesses do not consume it.
    expect((await get(url)).status).toBe(303);
  });

  it("refuses an expired token and one whose expiry is further out than 60 s, and deletes both", async () => {
    let link = await createLoginLink(NAME);
    fs.writeFileSync(tokenFile(), JSON.stringify({ expires: Math.floor(Date.now() / 1000) - 1 }));
    expect((await get(link.url)).status).toBe(403);
    expect(fs.readdirSync(dir)).toEqual([]);
    link = await createLoginLink(NAME);
    fs.writeFileSync(tokenFile(), JSON.stringify({ expires: Math.floor(Date.now() / 1000) + 3600 }));
    expect((await get(link.url)).status).toBe(403);
    expect(fs.readdirSync(dir)).toEqual([]);
  });

  it("refuses a token folder replaced by a link, on the site and on the host", async () => {
    const { url } = await createLoginLink(NAME);
    const moved = `${dir}-elsewhere`;
    fs.renameSync(dir, moved);
    fs.symlinkSync(moved, dir);
    try {
      expect((await get(url)).status).toBe(403);
      await expect(createLoginLink(NAME)).rejects.toBeInstanceOf(LinkRefusedError);
    } finally {
      fs.unlinkSync(dir);
      fs.renameSync(moved, dir);
    }
    // The folder back in place: the link was never used, so it still works once.
    expect((await get(url)).status).toBe(303);
  });
});
