import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { E2E_PASSWORD } from "../../playwright.config";

/**
 * The instance actions of issue #15 through the browser, against the real engine and fixture-app
 * instances: keyboard tabs, snapshot create and restore, PHP switch, open as admin (one-time
 * link), clone, export then import, and bulk stop/start from the list. Each flow checks the
 * site itself (its JSON page, its session), not only what the dashboard says.
 */
test.describe.configure({ mode: "serial" });

const TAG = Date.now().toString(36).slice(-5);
const A = `act-${TAG}`;
const B = `act-${TAG}-b`;
const C = `act-${TAG}-c`;
const work = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-actions-"));

let page: Page;
let siteUrl = "";

async function csrf(): Promise<string> {
  return (await page.context().cookies()).find((x) => x.name === "mdind_csrf")?.value ?? "";
}

async function siteJson(url = siteUrl): Promise<Record<string, unknown>> {
  const res = await page.context().request.get(url);
  expect(res.status()).toBe(200);
  return (await res.json()) as Record<string, unknown>;
}

/** The panel shows this operation (not the one before it), and it ends well. */
async function opDone(label: string | RegExp) {
  const panel = page.getByTestId("op-panel");
  await expect(panel.getByRole("heading", { level: 2 })).toHaveText(label);
  await expect(panel.getByTestId("op-done").or(panel.getByRole("alert"))).toBeVisible({ timeout: 300_000 });
  await expect(panel.getByTestId("op-done")).toBeVisible();
}

test.beforeAll(async ({ browser }) => {
  page = await (await browser.newContext({ acceptDownloads: true })).newPage();
});

test.afterAll(async () => {
  const headers = { "x-mdind-csrf": await csrf() };
  for (const n of [A, B, C]) await page.context().request.delete(`/api/v1/instances/${n}?wait=1`, { headers, timeout: 180_000 }).catch(() => null);
  await page.context().close();
  fs.rmSync(work, { recursive: true, force: true });
});

test("log in and create a fixture instance", async () => {
  await page.goto("/login");
  await page.getByLabel("Password").fill(E2E_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Instances", exact: true })).toBeVisible();
  const res = await page.context().request.post("/api/v1/instances?wait=1", {
    data: { name: A, moodle: "fixture", php: "8.2" },
    headers: { "x-mdind-csrf": await csrf() },
    timeout: 900_000,
  });
  expect(res.status(), await res.text()).toBe(200);
  siteUrl = ((await res.json()) as { url: string }).url;
  expect(siteUrl).toMatch(/^http:\/\/127\.0\.0\.1:80\d\d\/$/);
});

test("tabs are a keyboard tablist; snapshot create, then restore behind a confirmation", async () => {
  await page.goto(`/instances/${A}`);
  await expect(page.getByTestId("status").first()).toHaveAttribute("data-status", "running", { timeout: 60_000 });
  const overview = page.getByRole("tab", { name: "overview", exact: true });
  await overview.focus();
  await page.keyboard.press("ArrowRight");
  await page.keyboard.press("ArrowRight");
  const snapTab = page.getByRole("tab", { name: "snapshots", exact: true });
  await expect(snapTab).toBeFocused();
  await expect(snapTab).toHaveAttribute("aria-selected", "true");
  await expect(overview).toHaveAttribute("tabindex", "-1");
  const panel = page.getByRole("tabpanel");
  await expect(panel).toHaveAttribute("aria-labelledby", "tab-snapshots");
  expect(await snapTab.getAttribute("aria-controls")).toBe(await panel.getAttribute("id"));
  await page.keyboard.press("End");
  await expect(page.getByRole("tab", { name: "terminal", exact: true })).toHaveAttribute("aria-selected", "true");
  await page.keyboard.press("Home");
  await expect(overview).toHaveAttribute("aria-selected", "true");
  // ← from the first tab wraps to the last. (Not toBeFocused: the terminal panel takes focus when it opens.)
  await page.keyboard.press("ArrowLeft");
  await expect(page.getByRole("tab", { name: "terminal", exact: true })).toHaveAttribute("aria-selected", "true");
  await snapTab.click();

  const before = (await siteJson()).moodledata_counter as number;
  await page.getByTestId("snapshot-label").fill("before");
  await page.getByTestId("snapshot-create").click();
  await opDone("snapshot before");
  await expect(page.getByTestId("op-result")).toHaveText("Snapshot saved");
  const row = page.locator("[data-snapshot$='-before']");
  await expect(row).toBeVisible();
  await expect(row).toContainText("before");
  await expect(row).toContainText(/\d+(\.\d)? (KiB|MiB|B)/);

  // Changes after the snapshot: the site's moodledata counter moves on.
  await siteJson();
  await siteJson();
  expect((await siteJson()).moodledata_counter).toBe(before + 3);

  // The confirmation is a labelled dialog; Escape closes it without restoring.
  await row.getByRole("button", { name: /^Restore/ }).click();
  const dialog = page.getByRole("dialog", { name: `Restore ${A} to this snapshot?` });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Tab");
  await page.keyboard.press("Tab");
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await row.getByRole("button", { name: /^Restore/ }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Restore", exact: true }).click();
  await opDone(/^restore \d{8}T\d{6}Z-before$/);
  await expect(page.getByTestId("op-result")).toContainText("Restored");
  // moodledata is the snapshot's again: the counter continues from where it was then.
  expect((await siteJson()).moodledata_counter).toBe(before + 1);
});

test("PHP switch runs as an operation and the site answers on the new PHP", async () => {
  await page.goto(`/instances/${A}`);
  await page.getByTestId("php-open").click();
  const dialog = page.getByRole("dialog", { name: `Switch PHP of ${A}` });
  await expect(dialog).toBeVisible();
  await dialog.getByTestId("php-to").selectOption("7.4");
  await dialog.getByTestId("php-confirm").click();
  await opDone("PHP 8.2 → 7.4");
  await expect(page.getByTestId("op-result")).toHaveText("Now on PHP 7.4");
  expect(String((await siteJson()).php)).toMatch(/^7\.4\./);
  await expect(page.getByTestId("php-open")).toHaveText("PHP 7.4");
});

test("open as admin: a one-time link logs into the site, once", async () => {
  await page.goto(`/instances/${A}`);
  const linkAnswer = page.waitForResponse((r) => r.url().endsWith(`/api/v1/instances/${A}/login-link`));
  const [popup] = await Promise.all([page.waitForEvent("popup"), page.getByTestId("open-admin").click()]);
  const { url } = (await (await linkAnswer).json()) as { url: string };
  expect(url).toMatch(new RegExp(`^${siteUrl}mdind-login\\.php\\?t=[A-Za-z0-9_-]{43}$`));
  const secret = await page.context().request.get(`/api/v1/instances/${A}/secrets`);
  expect(url).not.toContain(((await secret.json()) as { adminPassword: string }).adminPassword);
  await popup.waitForURL(`${siteUrl}my/`);
  await expect(popup.locator("#loggedin")).toHaveText("You are logged in as admin");
  await popup.close();

  // Single use: the same link again (another browser) is refused, and no token file is left.
  const other = await page.context().browser()!.newContext();
  const again = await other.request.get(url, { maxRedirects: 0 });
  expect(again.status()).toBe(403);
  expect(await again.text()).toContain("not valid");
  const tampered = await other.request.get(url.replace(/.$/, (c) => (c === "A" ? "B" : "A")), { maxRedirects: 0 });
  expect(tampered.status()).toBe(403);
  const my = await other.request.get(`${siteUrl}my/`, { maxRedirects: 0 });
  expect(my.status()).toBe(303);
  await other.close();
  const dir = path.join(process.env.MDIND_E2E_HOME!, "instances", A, "data", "moodledata", ".mdind-login");
  expect(fs.readdirSync(dir)).toEqual([]);
});

test("clone: pick a name, watch the steps, land on the new instance", async () => {
  await page.goto(`/instances/${A}`);
  await page.getByTestId("clone-open").click();
  const dialog = page.getByRole("dialog", { name: `Clone ${A}` });
  await expect(dialog.getByLabel("New instance name")).toBeFocused();
  await dialog.getByLabel("New instance name").fill(B);
  await dialog.getByTestId("clone-confirm").click();
  await expect(page.getByTestId("op-panel")).toContainText(`clone to ${B}`);
  await page.waitForURL(new RegExp(`/instances/${B}$`), { timeout: 300_000 });
  await expect(page.getByRole("heading", { name: B })).toBeVisible();
  await expect(page.getByTestId("status").first()).toHaveAttribute("data-status", "running", { timeout: 60_000 });
  const cloneUrl = (await page.getByTestId("instance-url").textContent()) ?? "";
  expect(cloneUrl).not.toBe(siteUrl);
  expect((await siteJson(cloneUrl)).app).toBe("moodle-dind fixture");
});

test("export packs with its steps shown, then the browser downloads the file; import it on the list page as a new instance", async () => {
  await page.goto(`/instances/${A}`);
  const [download] = await Promise.all([page.waitForEvent("download", { timeout: 300_000 }), page.getByTestId("export").click()]);
  await expect(page.locator('[data-step="database"]')).toHaveAttribute("data-step-status", "done");
  await expect(page.locator('[data-step="archive"]')).toHaveAttribute("data-step-status", "done");
  await expect(page.getByTestId("op-result")).toContainText(`Packed ${A}.moodle-dind.tar.gz`);
  expect(download.suggestedFilename()).toBe(`${A}.moodle-dind.tar.gz`);
  const file = path.join(work, download.suggestedFilename());
  await download.saveAs(file);
  expect(await download.failure()).toBeNull();
  expect(fs.statSync(file).size).toBeGreaterThan(1000);
  // The packed file is fetched once: the same link again is a 404, and nothing is left on disk.
  const again = await page.context().request.get(download.url());
  expect(again.status()).toBe(404);

  await page.goto("/");
  await page.getByTestId("import-open").click();
  await page.getByTestId("import-file").setInputFiles(file);
  await page.getByTestId("import-name").fill(C);
  await page.getByTestId("import-start").click();
  await expect(page.getByLabel("upload progress")).toBeVisible();
  await page.getByTestId("import-open-instance").click({ timeout: 300_000 });
  await expect(page.getByRole("heading", { name: C })).toBeVisible();
  await expect(page.getByTestId("status").first()).toHaveAttribute("data-status", "running", { timeout: 60_000 });
  const importedUrl = (await page.getByTestId("instance-url").textContent()) ?? "";
  const imported = await siteJson(importedUrl);
  // The archive carried A's moodledata (its counter) and its PHP.
  expect(imported.moodledata_counter as number).toBeGreaterThan(1);
  expect(String(imported.php)).toMatch(/^7\.4\./);
});

test("bulk stop and start from the list, with a result per instance", async () => {
  await page.goto("/");
  for (const n of [A, B]) await page.getByRole("checkbox", { name: `Select ${n}`, exact: true }).check();
  await expect(page.getByTestId("bulk-count")).toHaveText("2 selected");
  await page.getByTestId("bulk-stop").click();
  for (const n of [A, B]) {
    await expect(page.locator(`[data-testid="bulk-results"] [data-instance="${n}"]`)).toHaveAttribute("data-result", "done", { timeout: 180_000 });
    await expect(page.locator(`tr[data-instance="${n}"] [data-testid="status"]`)).toHaveAttribute("data-status", "stopped", { timeout: 60_000 });
  }
  await expect(page.locator(`tr[data-instance="${C}"] [data-testid="status"]`)).toHaveAttribute("data-status", "running");
  expect((await page.context().request.get(siteUrl).catch(() => null))?.status() ?? 0).not.toBe(200);

  await page.getByTestId("bulk-start").click();
  for (const n of [A, B]) {
    await expect(page.locator(`[data-testid="bulk-results"] [data-instance="${n}"]`)).toHaveAttribute("data-result", "done", { timeout: 180_000 });
    await expect(page.locator(`tr[data-instance="${n}"] [data-testid="status"]`)).toHaveAttribute("data-status", "running", { timeout: 60_000 });
  }
  await expect.poll(async () => (await page.context().request.get(siteUrl).catch(() => null))?.status(), { timeout: 60_000 }).toBe(200);
});
