import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { E2E_PASSWORD } from "../../playwright.config";
import { fixtureBuild } from "../helpers/fixture-builds";

/**
 * The dashboard's Upgrade, in a real browser against the real engine: two fixture builds that
 * differ only in $version (5.1.0 and 5.1.1) are added to the server's library, a site is made
 * from the older one, its page says an upgrade is available, the user clicks Upgrade, watches the
 * steps in the operation panel, and the site then answers on the new version.
 */
test.describe.configure({ mode: "serial" });

const ROOT = path.resolve(import.meta.dirname, "..", "..");
const NAME = `e2eup-${Date.now().toString(36).slice(-5)}`;
const STEPS = ["check", "snapshot", "maintenance", "code", "upgrade", "caches", "maintenance-off", "ready"];
const buildsDir = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-e2e-builds-"));
const ids = { old: "", new: "" };
let page: Page;

/** The real CLI on the server's own data folder: what a user adding builds from a shell does. */
function cli(args: string[]): string {
  const r = spawnSync(process.execPath, [path.join(ROOT, "bin", "moodle-dind.mjs"), ...args, "--json"], {
    cwd: ROOT, encoding: "utf8", timeout: 300_000, env: { ...process.env, MDIND_HOME: process.env.MDIND_E2E_HOME },
  });
  if (r.status !== 0) throw new Error(`moodle-dind ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

/** The $version the site's database records (the fixture's upgrade.php writes it, as Moodle's config does). */
function siteVersion(): string {
  const r = spawnSync("docker", ["exec", "-u", "postgres", `mdind-${NAME}-db`, "psql", "-U", "postgres", "-d", "moodle", "-tAc", "SELECT value FROM mdl_fixture_site WHERE name = 'version'"], { encoding: "utf8" });
  return r.stdout.trim();
}

async function csrf(): Promise<string> {
  return (await page.context().cookies()).find((x) => x.name === "mdind_csrf")?.value ?? "";
}

test.beforeAll(async ({ browser }) => {
  const common = { branch: "501", publicDir: true, env: [["5.1", "4.2.3"]] as [string, string][] };
  fixtureBuild(path.join(buildsDir, "old"), { ...common, version: "2025100600.00", release: "5.1.0 (Build: 20251006)" });
  fixtureBuild(path.join(buildsDir, "new"), { ...common, version: "2025100601.00", release: "5.1.1 (Build: 20251110)" });
  ids.old = JSON.parse(cli(["moodle", "add", path.join(buildsDir, "old")])).id;
  ids.new = JSON.parse(cli(["moodle", "add", path.join(buildsDir, "new")])).id;
  page = await (await browser.newContext()).newPage();
});

test.afterAll(async () => {
  await page.context().request.delete(`/api/v1/instances/${NAME}?wait=1`, { headers: { "x-mdind-csrf": await csrf() } }).catch(() => null);
  // Other runs on this machine share test-results/ and may have removed its trace files by now.
  await page.context().close().catch(() => undefined);
  for (const id of [ids.old, ids.new]) if (id) spawnSync(process.execPath, [path.join(ROOT, "bin", "moodle-dind.mjs"), "moodle", "remove", id, "--yes"], { env: { ...process.env, MDIND_HOME: process.env.MDIND_E2E_HOME } });
  fs.rmSync(buildsDir, { recursive: true, force: true });
});

test("a site on the older build says an upgrade is available", async () => {
  await page.goto("/login");
  await page.getByLabel("Password").fill(E2E_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Instances", exact: true })).toBeVisible();
  const res = await page.context().request.post("/api/v1/instances?wait=1", {
    headers: { "x-mdind-csrf": await csrf() },
    data: { name: NAME, moodle: ids.old },
    timeout: 600_000,
  });
  expect(res.status(), await res.text()).toBeLessThan(300);
  await page.goto(`/instances/${NAME}`);
  await expect(page.getByTestId("status").first()).toHaveAttribute("data-status", "running", { timeout: 120_000 });
  await expect(page.getByTestId("upgrade-available")).toContainText(`upgrade available: ${ids.new}`);
  await expect(page.getByTestId("upgrade-open")).toHaveText("Upgrade ●");
  expect(siteVersion()).toBe("2025100600.00");
});

test("Upgrade shows each step as it runs, and the site answers on the new version", async () => {
  await page.getByTestId("upgrade-open").click();
  const dialog = page.getByRole("dialog");
  await expect(dialog.getByRole("heading", { name: `Upgrade ${NAME}` })).toBeVisible();
  await expect(dialog.getByTestId("upgrade-to")).toHaveValue(ids.new);
  await expect(dialog.getByTestId("upgrade-to").locator("option")).toHaveCount(1);
  await dialog.getByTestId("upgrade-confirm").click();

  const panel = page.getByTestId("op-panel");
  await expect(panel.getByRole("heading", { name: "upgrade to 5.1.1 (Build: 20251110)" })).toBeVisible();
  // Step by step: a step shows as running (a spinner and its last log line) before the end.
  await expect(panel.locator('[data-step-status="running"]').first()).toBeVisible({ timeout: 120_000 });
  await expect(panel.locator('[data-step="snapshot"]')).toBeVisible({ timeout: 120_000 });
  await page.screenshot({ path: "docs/screenshots/upgrade-progress.png", fullPage: true });
  await expect(panel.getByTestId("op-done")).toBeVisible({ timeout: 600_000 });
  await expect(panel.locator("[data-step]")).toHaveCount(STEPS.length);
  for (const [i, step] of STEPS.entries()) {
    await expect(panel.locator("[data-step]").nth(i)).toHaveAttribute("data-step", step);
    await expect(panel.locator(`[data-step="${step}"]`)).toHaveAttribute("data-step-status", "done");
  }

  await expect(page.getByText(`5.1 (5.1.1 (Build: 20251110))`)).toBeVisible({ timeout: 30_000 });
  await expect(page.getByTestId("upgrade-available")).toHaveCount(0);
  await expect(page.getByTestId("upgrade-open")).toHaveText("Upgrade");
  const url = (await page.getByTestId("instance-url").textContent()) ?? "";
  const site = await page.context().request.get(url);
  expect(site.status()).toBe(200);
  expect((await site.json()).app).toBe("moodle-dind fixture");
  expect((await page.context().request.get(`${url}login/index.php`)).status()).toBe(200);
  expect(siteVersion()).toBe("2025100601.00");
});
