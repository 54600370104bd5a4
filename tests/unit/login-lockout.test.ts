import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { POST as loginRoute } from "../../app/api/v1/auth/login/route";
import { login } from "../../services/auth";
import { issueDevice, verifyDevice } from "../../services/auth/device";

/**
 * Every client reaches the dashboard through the same docker-proxy address, so failed logins
 * counted per address let any local process lock the admin out. With device cookies, a browser
 * that logged in before keeps its own count.
 */
let home: string;
const saved = { ...process.env };
const PROXY_ADDR = "172.17.0.1";

beforeAll(() => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-lockout-"));
  process.env.MDIND_HOME = home;
  process.env.MDIND_ADMIN_PASSWORD = "right-password";
});
afterAll(() => {
  process.env = { ...saved };
  fs.rmSync(home, { recursive: true, force: true });
});

function attempt(password: string, cookie?: string, addr = PROXY_ADDR): Promise<Response> {
  const headers: Record<string, string> = { host: "127.0.0.1:7800", "content-type": "application/json", "x-mdind-remote-addr": addr };
  if (cookie) headers.cookie = cookie;
  return loginRoute(new Request("http://127.0.0.1:7800/api/v1/auth/login", { method: "POST", headers, body: JSON.stringify({ password }) }), {
    params: Promise.resolve({}),
  });
}

const deviceFrom = (res: Response) => res.headers.getSetCookie().find((c) => c.startsWith("mdind_device="));

describe("login lockout", () => {
  it("a guesser without the admin's device cookie cannot lock the admin's browser out", async () => {
    const first = await attempt("right-password");
    expect(first.status).toBe(200);
    const set = deviceFrom(first);
    expect(set).toMatch(/; Path=\/api\/v1\/auth\/login; HttpOnly; SameSite=Strict; Max-Age=\d+/);
    const device = set!.split(";")[0];

    // Another local process, same address, no device cookie: five guesses, then it is held off.
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) statuses.push((await attempt(`guess-${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    expect((await attempt("right-password")).status).toBe(429);
    // A made-up device cookie is no device: still held off.
    expect((await attempt(`guess-x`, "mdind_device=admin.AAAAAAAAAAAAAAAAAAAAAA.forged")).status).toBe(429);

    // The admin's browser shows its device cookie and gets in, right away.
    const admin = await attempt("right-password", device);
    expect(admin.status).toBe(200);
    expect(deviceFrom(admin)!.split(";")[0]).toBe(device);
  });

  it("guessing with a device cookie is limited per device", async () => {
    const device = await issueDevice("admin");
    const cookie = `mdind_device=${device}`;
    for (let i = 0; i < 5; i++) expect((await attempt(`guess-${i}`, cookie, "10.1.1.1")).status).toBe(401);
    expect((await attempt("right-password", cookie, "10.1.1.1")).status).toBe(429);
    // Its count is its own: a fresh address without a cookie is not affected.
    expect((await attempt("right-password", undefined, "10.1.1.2")).status).toBe(200);
  });

  it("device cookies are signed and bound to the user", async () => {
    const d = await issueDevice("admin");
    expect(await verifyDevice(d, "admin")).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(await verifyDevice(d, "someone")).toBeNull();
    expect(await verifyDevice(`${d.slice(0, -2)}xx`, "admin")).toBeNull();
    expect(await verifyDevice(undefined, "admin")).toBeNull();
    expect(fs.statSync(path.join(home, "state", "device.key")).mode & 0o777).toBe(0o600);
    const r = await login("right-password", "10.2.2.2", d);
    expect(r).toMatchObject({ ok: true, device: d });
  });
});
