import { execFileSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import AxeBuilder from "@axe-core/playwright";
import { expect, test, type Page } from "@playwright/test";
import { createFixture, login, removeInstance } from "./fixture-instance";

/**
 * axe-core on every page of the dashboard (WCAG 2.1 A and AA rules), logged out and in, the
 * instance page on each of its tabs: no serious or critical violation. The last test fails with
 * every finding of every page (rule, page, elements), so the message says what to fix.
 */
test.describe.configure({ mode: "serial" });

const NAME = `e2e-a11y-${Date.now().toString(36).slice(-5)}`;
let page: Page;
const found: string[] = [];

async function check(label: string): Promise<void> {
  // Scan the content, not the loading skeletons (networkidle never comes: the pages hold an SSE stream).
  await expect(page.locator(".skeleton")).toHaveCount(0, { timeout: 30_000 });
  const result = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]).analyze();
  const bad = result.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id} (${v.impact}): ${v.help}\n${v.nodes.slice(0, 5).map((n) => `   ${n.target.join(" ")} — ${n.failureSummary?.split("\n").slice(1).join(" ")}`).join("\n")}`);
  // Collected, and asserted once at the end: in a serial run a failing page would skip the next
  // pages, and one run should list every finding.
  found.push(...bad.map((b) => `[${label}] ${b}`));
}

test.beforeAll(async ({ browser }) => {
  page = await (await browser.newContext()).newPage();
});

test.afterAll(async () => {
  test.setTimeout(300_000);
  await removeInstance(page, NAME);
  await page.context().close();
});

test("login page", async () => {
  await page.goto("/login");
  await expect(page.getByLabel("Password")).toBeVisible();
  await check("login");
});

test("instance list, empty, after logging in", async () => {
  await login(page);
  await expect(page.getByRole("heading", { name: "Instances", level: 1 })).toBeVisible();
  await check("list (empty)");
});

test("new instance form", async () => {
  await page.goto("/instances/new");
  await expect(page.getByLabel("Name")).toBeVisible();
  await check("new instance");
});

for (const [path, heading] of [["/images", "Images"], ["/host", "Host"], ["/moodle", /Moodle/], ["/settings", "Settings"], ["/nodes", "Nodes"]] as const) {
  test(`${path} page`, async () => {
    await page.goto(path);
    await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
    await check(path);
  });
}

/** The fixture app packed as a Moodle 5.1 package (as first-run.spec.ts does), for a library row. */
function fixturePackage(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-a11y-pkg-"));
  const tree = path.join(dir, "pkg", "moodle");
  fs.cpSync(path.resolve("tests", "fixture-app"), tree, { recursive: true });
  const vp = path.join(tree, "public", "version.php");
  fs.writeFileSync(vp, fs.readFileSync(vp, "utf8").replace("'fixture 1.0'", "'5.1.0 (Build: 20251006)'").replace("$branch   = 'fixture'", "$branch   = '501'"));
  const file = path.join(dir, "moodle-5.1.0.tgz");
  execFileSync("tar", ["-czf", file, "-C", path.dirname(tree), "moodle"]);
  return file;
}

test("Moodle page: the remove dialog is labelled, keeps focus inside, closes on Escape", async () => {
  test.setTimeout(600_000);
  await page.goto("/moodle");
  await page.locator("#moodle-upload").setInputFiles(fixturePackage());
  await expect(page.getByTestId("moodle-operation").getByTestId("op-done")).toBeVisible({ timeout: 300_000 });
  const remove = page.getByRole("button", { name: /^Remove Moodle 5\.1\.0/ });
  await expect(remove).toBeEnabled({ timeout: 60_000 });
  await check("/moodle with a build");

  await remove.click();
  const dialog = page.getByRole("dialog", { name: /^Remove Moodle 5\.1\.0 .*\?$/ });
  await expect(dialog).toBeVisible();
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  // Tab from the last control wraps to the first, Shift+Tab from the first to the last.
  await page.keyboard.press("Tab");
  await expect(dialog.getByRole("button", { name: "Remove" })).toBeFocused();
  await page.keyboard.press("Tab");
  await expect(dialog.getByRole("button", { name: "Cancel" })).toBeFocused();
  await page.keyboard.press("Shift+Tab");
  await expect(dialog.getByRole("button", { name: "Remove" })).toBeFocused();
  await check("/moodle remove dialog");
  await page.keyboard.press("Escape");
  await expect(dialog).toBeHidden();
  await expect(remove).toBeFocused();

  await remove.click();
  await dialog.getByRole("button", { name: "Remove" }).click();
  await expect(page.locator("tr[data-build]")).toHaveCount(0, { timeout: 60_000 });
});

// Last, as creating an instance is what a loaded machine most often fails at.
test("instance list, with an instance and the filter shown", async () => {
  test.setTimeout(900_000);
  await createFixture(page, NAME);
  await page.goto("/");
  await expect(page.locator(`tr[data-instance="${NAME}"]`)).toBeVisible();
  await check("list");
});

for (const tab of ["overview", "services", "logs", "config", "mail", "terminal"]) {
  test(`instance page: ${tab} tab`, async () => {
    await page.goto(`/instances/${NAME}`);
    await expect(page.getByRole("heading", { name: NAME })).toBeVisible();
    await page.getByRole("tab", { name: tab, exact: true }).click();
    await expect(page.getByRole("tab", { name: tab, exact: true })).toHaveAttribute("aria-selected", "true");
    await check(`instance ${tab}`);
  });
}

test("no serious or critical violation on any page", async () => {
  expect(found, found.join("\n")).toEqual([]);
});
