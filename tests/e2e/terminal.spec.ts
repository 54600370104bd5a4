import { spawn } from "node:child_process";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import WebSocket from "ws";
import Docker from "dockerode";

/**
 * The web terminal in a real browser against a real engine: a fixture instance is created with the
 * CLI (same MDIND_HOME as the dashboard under test), and every check looks at the actual container.
 */
const ROOT = path.resolve(import.meta.dirname, "..", "..");
// Runs under tests/e2e/terminal.config.ts (its own dev server) or the repo's playwright.config.ts
// (shared production server; its home, port and password are the fallbacks here).
const HOME = process.env.MDIND_E2E_TERM_HOME ?? process.env.MDIND_E2E_HOME!;
const PASSWORD = process.env.MDIND_E2E_TERM_PASSWORD ?? "e2e-admin-password";
const PORT = process.env.MDIND_E2E_TERM_PORT ?? process.env.MDIND_E2E_PORT ?? "7861";
const NAME = `term-${Math.random().toString(36).slice(2, 7)}`;
const docker = new Docker();
let phpVersion = "";

function cli(args: string[], timeoutMs = 600_000): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, "bin", "moodle-dind.mjs"), ...args], {
      cwd: ROOT,
      env: { ...process.env, MDIND_HOME: HOME },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`moodle-dind ${args.join(" ")} timed out\n${stderr}`));
    }, timeoutMs);
    child.on("close", (code) => {
      clearTimeout(t);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

/** `ps` inside a container, through the engine (not through the terminal under test). */
async function ps(service: string): Promise<string> {
  const exec = await docker.getContainer(`mdind-${NAME}-${service}`).exec({
    Cmd: ["ps", "-eo", "pid,user,args"],
    AttachStdout: true,
    AttachStderr: true,
  });
  const stream = await exec.start({});
  const chunks: Buffer[] = [];
  const out = new (await import("node:stream")).PassThrough();
  out.on("data", (d: Buffer) => chunks.push(d));
  docker.modem.demuxStream(stream, out, out);
  await new Promise<void>((r) => stream.on("end", () => r()));
  return Buffer.concat(chunks).toString();
}

async function login(page: Page) {
  const r = await page.request.post("/api/v1/auth/login", { data: { password: PASSWORD } });
  expect(r.status()).toBe(200);
}

/** Text of the visible terminal's screen (xterm's DOM renderer), spaces normalised. */
async function screen(page: Page): Promise<string> {
  return (await page.locator('[data-active="true"] .xterm-rows').innerText()).replace(/\u00a0/g, " ");
}

async function openTerminal(page: Page) {
  await page.goto(`/instances/${NAME}#terminal`);
  await expect(page.locator('[data-active="true"] [data-testid="terminal-view"]')).toHaveAttribute("data-status", "open", { timeout: 60_000 });
  await expect.poll(() => screen(page), { timeout: 30_000 }).toMatch(/www-data@.*\$/);
  await page.locator('[data-active="true"] [data-testid="terminal-screen"]').click();
}

async function run(page: Page, command: string) {
  await page.keyboard.type(command);
  await page.keyboard.press("Enter");
}

/** The shell's own PID inside the container, printed with a marker so the echo of the command never matches. */
async function shellPid(page: Page): Promise<string> {
  await run(page, "echo PID-$(( $$ + 0 ))-DIP");
  let pid = "";
  await expect
    .poll(async () => {
      pid = /PID-(\d+)-DIP/.exec(await screen(page))?.[1] ?? "";
      return pid;
    })
    .not.toBe("");
  return pid;
}

/** The server's terminal limits (grace period, per-user cap), so waits match whichever config runs. */
async function terminalLimits(page: Page): Promise<{ perUser: number; graceSeconds: number }> {
  const r = await page.request.get("/api/v1/terminal/sessions");
  expect(r.status()).toBe(200);
  return ((await r.json()) as { limits: { perUser: number; graceSeconds: number } }).limits;
}

async function cookieHeader(page: Page): Promise<string> {
  return (await page.context().cookies()).map((c) => `${c.name}=${c.value}`).join("; ");
}

/** Try a WebSocket; report whether it opened, the HTTP status if refused, or the close code. */
function tryWs(query: string, headers: Record<string, string>): Promise<{ opened: boolean; status?: number; body?: string; close?: number }> {
  return new Promise((resolve) => {
    const ws = new WebSocket(`ws://127.0.0.1:${PORT}/api/v1/terminal?${query}`, { headers });
    let opened = false;
    ws.on("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (d: Buffer) => (body += d));
      res.on("end", () => resolve({ opened, status: res.statusCode, body }));
    });
    ws.on("open", () => {
      opened = true;
      ws.close();
    });
    ws.on("close", (code) => resolve({ opened, close: code }));
    ws.on("error", () => undefined);
  });
}

test.beforeAll(async () => {
  test.setTimeout(900_000);
  const r = await cli(["create", NAME, "--moodle", "fixture", "--json"]);
  expect(r.code, r.stderr).toBe(0);
  const view = JSON.parse(r.stdout.trim().split("\n").pop()!) as { php: string };
  phpVersion = view.php;
  expect(phpVersion).toMatch(/^\d\.\d$/);
});

test.afterAll(async () => {
  test.setTimeout(300_000);
  const r = await cli(["remove", NAME, "--yes"]);
  expect(r.code, r.stderr).toBe(0);
});

test("a terminal to the app container runs php -v as www-data in the Moodle folder", async ({ page }) => {
  await login(page);
  await openTerminal(page);
  await run(page, "php -v; echo WHO-$(id -un)-$(pwd)");
  const escaped = phpVersion.replace(".", "\\.");
  await expect.poll(() => screen(page)).toMatch(new RegExp(`PHP ${escaped}\\.\\d+ \\(cli\\)`));
  await expect.poll(() => screen(page)).toContain("WHO-www-data-/var/www/moodle");
});

test("stty size follows the element when the page is resized", async ({ page }) => {
  await page.setViewportSize({ width: 1280, height: 900 });
  await login(page);
  await openTerminal(page);
  const size = async () => {
    const all = [...(await screen(page)).matchAll(/SZ:(\d+)x(\d+)/g)];
    return all.length ? `${all[all.length - 1][1]}x${all[all.length - 1][2]}` : "";
  };
  await run(page, "clear; stty size | tr ' ' x | sed 's/^/SZ:/'");
  await expect.poll(size).toMatch(/^\d+x\d+$/);
  const before = await size();
  await page.setViewportSize({ width: 760, height: 560 });
  // Let the observer fit and the resize reach the engine before asking again.
  await page.waitForTimeout(800);
  await run(page, "clear; stty size | tr ' ' x | sed 's/^/SZ:/'");
  // Poll for a size that differs from the first: right after `clear` the screen is briefly empty,
  // and an empty answer must not count as "changed".
  let after = "";
  await expect
    .poll(async () => {
      const s = await size();
      if (s && s !== before) after = s;
      return after;
    })
    .toMatch(/^\d+x\d+$/);
  const [r1, c1] = before.split("x").map(Number);
  const [r2, c2] = after.split("x").map(Number);
  expect(c2).toBeLessThan(c1);
  expect(r2).toBeLessThan(r1);
});

test("a multi-line paste runs (paste event and the Paste button)", async ({ page, context }) => {
  await login(page);
  await openTerminal(page);
  // The browser's paste event on xterm's textarea: what Ctrl+Shift+V and right-click → Paste produce.
  await page.evaluate(() => {
    const ta = document.querySelector('[data-active="true"] textarea.xterm-helper-textarea') as HTMLTextAreaElement;
    const dt = new DataTransfer();
    dt.setData("text/plain", "echo P$((6*7))\necho Q$((7*8))\n");
    ta.dispatchEvent(new ClipboardEvent("paste", { clipboardData: dt, bubbles: true, cancelable: true }));
  });
  // Bash's bracketed paste holds a multi-line paste for review; Enter runs it (and is harmless otherwise).
  await expect.poll(() => screen(page)).toContain("echo Q$((7*8))");
  await page.keyboard.press("Enter");
  await expect.poll(() => screen(page)).toMatch(/^P42\s*$/m);
  await expect.poll(() => screen(page)).toMatch(/^Q56\s*$/m);

  // The Paste button reads the system clipboard.
  await context.grantPermissions(["clipboard-read", "clipboard-write"]);
  await page.evaluate(() => navigator.clipboard.writeText("echo R$((8*9))\necho S$((9*9))\n"));
  await page.getByTestId("terminal-paste").click();
  // Focus is back in the terminal at once, so the next key goes to the shell, not to the button.
  expect(await page.evaluate(() => document.activeElement?.classList.contains("xterm-helper-textarea"))).toBe(true);
  // Like a user: see the pasted lines held at the prompt, then press Enter.
  await expect.poll(() => screen(page)).toContain("echo S$((9*9))");
  await page.keyboard.press("Enter");
  await expect.poll(() => screen(page)).toMatch(/^R72\s*$/m);
  await expect.poll(() => screen(page)).toMatch(/^S81\s*$/m);
});

test("closing the tab ends the shell and everything it started", async ({ page }) => {
  await login(page);
  await openTerminal(page);
  const pid = await shellPid(page);
  // A background job, a nohup'd one and one in a new session: all must go.
  await run(page, "sleep 4242 & nohup sleep 4243 >/dev/null 2>&1 & setsid sleep 4244 & echo STARTED-$((2+2))");
  await expect.poll(() => screen(page)).toMatch(/^STARTED-4\s*$/m);
  const running = await ps("app");
  expect(running).toMatch(new RegExp(`^\\s*${pid}\\s+www-data\\s+bash`, "m"));
  for (const s of ["4242", "4243", "4244"]) expect(running).toContain(`sleep ${s}`);

  await page.getByTestId("terminal-tab-close").first().click();
  await expect
    .poll(async () => {
      const out = await ps("app");
      return new RegExp(`^\\s*${pid}\\s`, "m").test(out) || /sleep 424[234]/.test(out);
    }, { timeout: 20_000 })
    .toBe(false);
});

test("closing the browser tab ends the shell after the grace period", async ({ page }) => {
  await login(page);
  const { graceSeconds } = await terminalLimits(page);
  test.setTimeout(graceSeconds * 1000 + 180_000);
  await openTerminal(page);
  const pid = await shellPid(page);
  await run(page, "sleep 4343 & echo BG-$((3+3))");
  await expect.poll(() => screen(page)).toMatch(/^BG-6\s*$/m);
  expect(await ps("app")).toContain("sleep 4343");
  await page.close();
  // MDIND_TERMINAL_GRACE_SECONDS (30 in terminal.config.ts, 60 by default), then the reaper.
  await expect
    .poll(async () => {
      const out = await ps("app");
      return new RegExp(`^\\s*${pid}\\s`, "m").test(out) || out.includes("sleep 4343");
    }, { timeout: graceSeconds * 1000 + 60_000, intervals: [1000] })
    .toBe(false);
});

test("a reload re-attaches to the same shell and replays its recent output", async ({ page }) => {
  await login(page);
  await openTerminal(page);
  const pid = await shellPid(page);
  await run(page, "echo REPLAY-$((3*4))");
  await expect.poll(() => screen(page)).toMatch(/^REPLAY-12\s*$/m);
  await page.reload();
  await expect(page.locator('[data-active="true"] [data-testid="terminal-view"]')).toHaveAttribute("data-status", "open", { timeout: 60_000 });
  await expect.poll(() => screen(page)).toMatch(/^REPLAY-12\s*$/m);
  await page.locator('[data-active="true"] [data-testid="terminal-screen"]').click();
  await run(page, "echo AGAIN-$(( $$ + 0 ))");
  await expect.poll(() => screen(page)).toMatch(new RegExp(`^AGAIN-${pid}\\s*$`, "m"));
  await page.getByTestId("terminal-tab-close").first().click();
});

test("the db tab opens the database client logged in to the instance's database", async ({ page }) => {
  await login(page);
  await openTerminal(page);
  await page.getByTestId("terminal-open-db").click();
  await expect(page.locator('[data-active="true"] [data-testid="terminal-view"]')).toHaveAttribute("data-status", "open", { timeout: 60_000 });
  await page.locator('[data-active="true"] [data-testid="terminal-screen"]').click();
  await run(page, "select 'DB-' || current_user || '-' || current_database() as x;");
  await expect.poll(() => screen(page)).toContain("DB-moodle-moodle");
  for (let i = 0; i < 2; i++) await page.getByTestId("terminal-tab-close").first().click();
});

test("unauthenticated sockets and hostile targets are refused before any socket opens", async ({ page }) => {
  await login(page);
  const cookie = await cookieHeader(page);
  const origin = `http://127.0.0.1:${PORT}`;

  // No credentials at all, and a made-up session cookie.
  const anon = await tryWs(`instance=${NAME}&service=app`, { origin });
  expect(anon).toMatchObject({ opened: false, status: 401 });
  const forged = await tryWs(`instance=${NAME}&service=app`, { origin, cookie: "mdind_session=forged" });
  expect(forged).toMatchObject({ opened: false, status: 401 });
  // A logged-in browser driven by another site.
  const crossSite = await tryWs(`instance=${NAME}&service=app`, { origin: "http://evil.example", cookie });
  expect(crossSite).toMatchObject({ opened: false, status: 403 });

  const shells = async () => new Set([...(await ps("app")).matchAll(/^\s*(\d+)\s+\S+\s+bash -l/gm)].map((m) => m[1]));
  const shellsBefore = await shells();
  const hostile: [string, number][] = [
    ["instance=no-such-instance&service=app", 404],
    [`instance=..%2F..%2Fetc&service=app`, 400],
    [`instance=../${NAME}&service=app`, 400],
    [`instance=${NAME}&service=app;id`, 400],
    [`instance=${NAME}&service=${encodeURIComponent("$(id)")}`, 400],
    [`instance=${NAME}&service=${encodeURIComponent("app`id`")}`, 400],
    [`instance=${NAME}&service=app&cols=100000&rows=24`, 400],
    [`instance=${NAME}&service=app&cols=80&rows=9999`, 400],
    [`instance=${NAME}&service=app&cols=-1`, 400],
    [`instance=${NAME}&service=app&cmd=id`, 400],
    ["target=host", 403],
  ];
  for (const [query, status] of hostile) {
    const r = await tryWs(query, { origin, cookie });
    expect(r, query).toMatchObject({ opened: false, status });
  }
  // Nothing was started by any of them.
  const started = [...(await shells())].filter((p) => !shellsBefore.has(p));
  expect(started).toEqual([]);

  // And a well-formed request with the same credentials does open (so the refusals above mean something).
  const ok = await tryWs(`instance=${NAME}&service=web&cols=80&rows=24`, { origin, cookie });
  expect(ok.opened).toBe(true);
});

test("terminals beyond the per-user cap are refused with 4429", async ({ page }) => {
  await login(page);
  const headers = { origin: `http://127.0.0.1:${PORT}`, cookie: await cookieHeader(page) };
  const { perUser } = await terminalLimits(page);
  const open: WebSocket[] = [];
  let refusal: { code: number; reason: string } | null = null;
  // Sessions of earlier tests still in their grace period count too, so at most perUser open here
  // and the next one is refused.
  for (let i = 0; i < perUser + 2 && !refusal; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${PORT}/api/v1/terminal?instance=${NAME}&service=cron`, { headers });
    const r = await new Promise<{ hello: boolean; code?: number; reason?: string }>((resolve) => {
      ws.on("message", (d, binary) => {
        if (!binary && JSON.parse(d.toString()).type === "hello") resolve({ hello: true });
      });
      ws.on("close", (code, reason) => resolve({ hello: false, code, reason: reason.toString() }));
      ws.on("error", () => undefined);
    });
    if (r.hello) open.push(ws);
    else refusal = { code: r.code!, reason: r.reason! };
  }
  expect(open.length).toBeLessThanOrEqual(perUser);
  expect(refusal).toMatchObject({ code: 4429, reason: expect.stringMatching(new RegExp(`at most ${perUser} terminals per user`)) });
  for (const ws of open) ws.send(JSON.stringify({ type: "close" }));
  await expect.poll(() => open.every((ws) => ws.readyState === WebSocket.CLOSED), { timeout: 30_000 }).toBe(true);
});

test("the host page explains why the host shell is off on a developer machine", async ({ page }) => {
  await login(page);
  await page.goto("/host");
  await expect(page.getByTestId("host-shell-disabled")).toContainText("MDIND_HOST_SHELL=1");
  await expect(page.getByTestId("terminal-tab")).toHaveCount(0);
});
