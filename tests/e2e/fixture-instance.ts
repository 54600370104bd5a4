import { expect, type Page } from "@playwright/test";
import { E2E_PASSWORD } from "../../playwright.config";

/** Log in through the form, as a user does. */
export async function login(page: Page): Promise<void> {
  await page.goto("/login");
  await page.getByLabel("Password").fill(E2E_PASSWORD);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("heading", { name: "Instances" })).toBeVisible();
}

async function csrf(page: Page): Promise<string> {
  return (await page.context().cookies()).find((c) => c.name === "mdind_csrf")?.value ?? "";
}

/** A running fixture-app instance made through the REST API (the browser flow has its own spec). */
export async function createFixture(page: Page, name: string): Promise<void> {
  const res = await page.context().request.post("/api/v1/instances?wait=1", {
    headers: { "x-mdind-csrf": await csrf(page) },
    data: { name, moodle: "fixture" },
    timeout: 600_000,
  });
  expect(res.status(), await res.text()).toBeLessThan(300);
}

export async function removeInstance(page: Page, name: string): Promise<void> {
  await page.context().request.delete(`/api/v1/instances/${name}?wait=1`, { headers: { "x-mdind-csrf": await csrf(page) }, timeout: 300_000 }).catch(() => null);
}
