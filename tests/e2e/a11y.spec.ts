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

test("instance list, with an instance and the filter shown", async () => {
  test.setTimeout(900_000);
  await login(page);
  await createFixture(page, NAME);
  await page.goto("/");
  await expect(page.locator(`tr[data-instance="${NAME}"]`)).toBeVisible();
  await check("list");
});

test("new instance form", async () => {
  await page.goto("/instances/new");
  await expect(page.getByLabel("Name")).toBeVisible();
  await check("new instance");
});

for (const tab of ["overview", "services", "logs", "config", "mail", "terminal"]) {
  test(`instance page: ${tab} tab`, async () => {
    await page.goto(`/instances/${NAME}`);
    await expect(page.getByRole("heading", { name: NAME })).toBeVisible();
    await page.getByRole("tab", { name: tab }).click();
    await expect(page.getByRole("tab", { name: tab })).toHaveAttribute("aria-selected", "true");
    await check(`instance ${tab}`);
  });
}

for (const [path, heading] of [["/images", "Images"], ["/host", "Host"], ["/moodle", /Moodle/], ["/settings", "Settings"]] as const) {
  test(`${path} page`, async () => {
    await page.goto(path);
    await expect(page.getByRole("heading", { name: heading, level: 1 })).toBeVisible();
    await check(path);
  });
}

test("no serious or critical violation on any page", async () => {
  expect(found, found.join("\n")).toEqual([]);
});
