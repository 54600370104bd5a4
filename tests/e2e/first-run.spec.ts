import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { E2E_PASSWORD } from "../../playwright.config";

/**
 * A new user's first run, on the production build against the real engine: an empty library, a
 * Moodle package uploaded on the Moodle page, an instance created with the form's untouched
 * defaults, and the site's login page reached.
 *
 * CI uploads the fixture app packed like a Moodle 5.1 package. With real packages given as
 * MDIND_E2E_MOODLE_PACKAGES=/path/moodle-4.5.tgz,/path/moodle-5.1.tgz the same spec installs real
 * Moodle: the first package's site is created with the defaults, each further one by picking its
 * build, and the admin logs in to every site in this one browser.
 */
test.describe.configure({ mode: "serial" });

const sfx = Date.now().toString(36).slice(-5);
const real = (process.env.MDIND_E2E_MOODLE_PACKAGES ?? "").split(",").map((s) => s.trim()).filter(Boolean);
// A real install is ~2.5 min on a quiet 2-core machine; a busy one can take several times that.
const INSTALL_TIMEOUT = real.length ? 25 * 60_000 : 3 * 60_000;

let page: Page;
let work = "";
let packages: string[] = [];
const sites: { name: string; url: string; build: string }[] = [];
const builds: string[] = [];

/** The fixture app as a Moodle 5.1 package: same public/ layout, a version.php naming branch 501. */
function fixturePackage(dir: string): string {
  const tree = path.join(dir, "pkg", "moodle");
  fs.cpSync(path.resolve("tests", "fixture-app"), tree, { recursive: true });
  const vp = path.join(tree, "public", "version.php");
  const text = fs.readFileSync(vp, "utf8").replace("'fixture 1.0'", "'5.1.0 (Build: 20251006)'").replace("$branch   = 'fixture'", "$branch   = '501'");
  fs.writeFileSync(vp, text);
  const file = path.join(dir, "moodle-5.1.0.tgz");
  execFileSync("tar", ["-czf", file, "-C", path.dirname(tree), "moodle"]);
  return file;
}

async function csrf(): Promise<string> {
  return (await page.context().cookies()).find((c) => c.name === "mdind_csrf")?.value ?? "";
}

test.beforeAll(async ({ browser }) => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-e2e-first-"));
  packages = real.length ? real : [fixturePackage(work)];
  page = await (await browser.newContext()).newPage();
});

test.afterAll(async () => {
  const headers = { "x-mdind-csrf": await csrf() };
  for (const s of sites) await page.context().request.delete(`/api/v1/instances/${s.name}?wait=1`, { headers }).catch(() => null);
  for (const b of builds) await page.context().request.delete(`/api/v1/moodle/${b}`, { headers }).catch(() => null);
  await page.context().close();
  fs.rmSync(work, { recursive: true, force: true });
});

test("1. log in and find the library empty", async () => {
  await page.goto("/login");
  await page.getByLabel("Password").fill(E2E_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Instances", exact: true })).toBeVisible();
  await page.getByRole("link", { name: "Moodle", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Moodle builds" })).toBeVisible();
  await expect(page.getByTestId("library-empty")).toBeVisible();
});

test("2. upload a Moodle package on the Moodle page", async () => {
  for (const file of packages) {
    test.setTimeout(packages.length * 10 * 60_000);
    await page.locator("#moodle-upload").setInputFiles(file);
    const op = page.getByTestId("moodle-operation");
    await expect(op).toBeVisible({ timeout: 120_000 });
    await expect(op.getByTestId("op-done")).toBeVisible({ timeout: 10 * 60_000 });
    await expect(page.locator("#moodle-upload")).toBeEnabled({ timeout: 60_000 });
  }
  const rows = page.locator("tr[data-build]");
  await expect(rows).toHaveCount(packages.length);
  for (const id of await rows.evaluateAll((els) => els.map((e) => e.getAttribute("data-build") ?? ""))) builds.push(id);
  await page.screenshot({ path: "docs/screenshots/moodle-library.png", fullPage: true });
});

async function createWithForm(name: string, pickBuild?: string): Promise<void> {
  await page.goto("/instances/new");
  await page.getByLabel("Name").fill(name);
  if (pickBuild) await page.locator("#moodle").selectOption(pickBuild);
  await page.getByRole("button", { name: "Create instance" }).click();
  await expect(page.getByRole("heading", { name: `Creating ${name}` })).toBeVisible();
  // Done, or the create's own error (an alert in the operation panel): a failed install ends the
  // wait at once, with the product's message in the test's failure.
  const outcome = page.getByTestId("open-instance").or(page.locator("main [role=alert]"));
  await expect(outcome.first()).toBeVisible({ timeout: INSTALL_TIMEOUT });
  const alert = page.locator("main [role=alert]");
  if (await alert.count()) throw new Error(`create ${name} failed: ${await alert.first().innerText()}`);
  const view = await (await page.context().request.get(`/api/v1/instances/${name}`)).json() as { url: string; build: string | null };
  sites.push({ name, url: view.url, build: view.build ?? "" });
}

test("3. create an instance with the form's defaults, touching no select", async () => {
  test.setTimeout(INSTALL_TIMEOUT + 60_000);
  await createWithForm(`first-${sfx}`);
  // The default is the newest build in the library, on images already on the engine.
  expect(builds).toContain(sites[0].build);
});

test("4. reach the site's login page", async () => {
  const site = await page.context().newPage();
  const res = await site.goto(`${sites[0].url}login/index.php`);
  expect(res?.status()).toBe(200);
  await expect(site.locator("#loginbtn")).toBeVisible();
  await site.close();
});

test("5. with real packages: one site per build, side by side, the admin logged in to each", async () => {
  test.skip(real.length < 2, "needs MDIND_E2E_MOODLE_PACKAGES with two or more real Moodle packages");
  test.setTimeout(real.length * (INSTALL_TIMEOUT + 120_000));
  for (const b of builds.filter((id) => id !== sites[0].build)) await createWithForm(`site-${b.slice(0, 3).replace(".", "")}-${sfx}`, b);
  for (const s of sites) {
    const secrets = await (await page.context().request.get(`/api/v1/instances/${s.name}/secrets`)).json() as { adminUser: string; adminPassword: string };
    const site = await page.context().newPage();
    await site.goto(`${s.url}login/index.php`);
    // Moodle 5.x swaps the password input for one with a show/hide toggle once its template has
    // loaded (outerHTML, so a value typed before is lost): type after the swap, as a person would.
    // (4.3 and later; 4.1's page has no toggle.)
    if ((await site.content()).includes("core/togglesensitive")) await site.locator(".toggle-sensitive-btn").waitFor({ state: "attached", timeout: 60_000 });
    await site.locator("#username").fill(secrets.adminUser);
    await site.locator("#password").fill(secrets.adminPassword);
    await site.locator("#loginbtn").click();
    await expect(site).not.toHaveURL(/login\/index\.php/, { timeout: 120_000 });
    await site.close();
  }
  // Still logged in everywhere: each site has its own session cookie.
  for (const s of sites) {
    const site = await page.context().newPage();
    await site.goto(`${s.url}my/`);
    await expect(site).not.toHaveURL(/login\/index\.php/);
    await site.close();
  }
});
