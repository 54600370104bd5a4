#!/usr/bin/env node
// Screenshots of a running dashboard (an e2e server with fixture instances, or your own): the list
// with its sparklines, the host totals and the first instance's per-service charts. Debian's
// chromium, never a downloaded browser.
// Usage: MDIND_URL=http://127.0.0.1:7863 MDIND_PASSWORD=… node scripts/screenshots-live.mjs [outdir]
import { chromium } from "@playwright/test";

const base = process.env.MDIND_URL ?? "http://127.0.0.1:7863";
const password = process.env.MDIND_PASSWORD;
const out = process.argv[2] ?? "docs/screenshots";
if (!password) {
  console.error("MDIND_PASSWORD is required");
  process.exit(2);
}
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--headless", "--no-sandbox", "--disable-gpu"] });
try {
  const page = await (await browser.newContext({ viewport: { width: 1440, height: 900 }, baseURL: base })).newPage();
  const shot = async (name) => {
    // A dev server (`npx tsx server.ts`) draws Next's indicator bubble; it is not part of the product.
    await page.evaluate(() => {
      document.querySelectorAll("nextjs-portal").forEach((n) => n.remove());
      window.scrollTo(0, 0);
    });
    await page.screenshot({ path: `${out}/${name}.png`, fullPage: true });
    console.log(`${out}/${name}.png`);
  };
  await page.goto("/login");
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "Instances" }).waitFor();
  // The sparklines: wait until the first instance's CPU line has a few points.
  await page.waitForFunction(() => Number(document.querySelector('tr[data-instance] svg[data-chart="cpu"]')?.getAttribute("data-points") ?? 0) >= 3, null, { timeout: 120_000 });
  await shot("instances");
  await page.goto("/host");
  await page.getByRole("heading", { name: "Engine" }).waitFor({ timeout: 60_000 });
  await page.waitForFunction(() => Number(document.querySelector('[data-testid="host-charts"] svg[data-chart="cpu"]')?.getAttribute("data-points") ?? 0) >= 3, null, { timeout: 60_000 });
  await shot("host");
} finally {
  await browser.close();
}
