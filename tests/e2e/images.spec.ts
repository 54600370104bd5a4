import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect, test, type Page } from "@playwright/test";
import { createFixture, login, removeInstance } from "./fixture-instance";

/**
 * The Images page against the real engine: the catalog (present and missing, as the engine has
 * them), a build whose output streams into the page, the shared-images preload per tarball
 * (one loaded, one skipped, one failed, each with its reason, bytes and rate), and the live charts
 * (a fixture instance's sparklines gain points once docker stats arrive; service and host charts).
 */
test.describe.configure({ mode: "serial" });

const TAG = Date.now().toString(36).slice(-6);
const LOADED = `mdind-e2e-preload/loaded:${TAG}`;
const SKIPPED = `mdind-e2e-preload/skipped:${TAG}`;
const NAME = `e2e-charts-${TAG}`;
const sharedDir = path.join(process.env.MDIND_E2E_HOME!, "shared-images");
// From the top: a full-page shot taken scrolled down draws the sticky header mid-page.
async function shot(page: Page, name: string): Promise<void> {
  await page.evaluate(() => window.scrollTo(0, 0));
  await page.screenshot({ path: `docs/screenshots/${name}.png`, fullPage: true });
}

function docker(args: string[], input?: Buffer): string {
  const r = spawnSync("docker", args, { input, encoding: "buffer", timeout: 120_000 });
  if (r.status !== 0) throw new Error(`docker ${args.join(" ")}: ${r.stderr.toString()}`);
  return r.stdout.toString().trim();
}

/** A one-file image from a tar (docker import), so the test needs no registry and no big image. */
function tinyImage(tag: string, content: string): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-tiny-"));
  fs.writeFileSync(path.join(dir, "hello.txt"), content);
  const tar = spawnSync("tar", ["-cf", "-", "-C", dir, "hello.txt"], { encoding: "buffer" });
  fs.rmSync(dir, { recursive: true, force: true });
  docker(["import", "-", tag], tar.stdout);
}

let page: Page;

test.beforeAll(async ({ browser }) => {
  page = await (await browser.newContext()).newPage();
  await login(page);
});

test.afterAll(async () => {
  test.setTimeout(300_000);
  await removeInstance(page, NAME);
  for (const t of [LOADED, SKIPPED]) spawnSync("docker", ["rmi", "-f", t]);
  await page.context().close();
});

test("catalog: every image the version table names, present or missing as the engine has it", async () => {
  const api = (await (await page.context().request.get("/api/v1/images")).json()) as { images: { kind: string; version: string; present: boolean }[] };
  expect(api.images.length).toBeGreaterThan(3);
  await page.goto("/images");
  await expect(page.getByRole("heading", { name: "Images", level: 1 })).toBeVisible();
  const missing = api.images.filter((i) => !i.present).length;
  await expect(page.getByTestId("catalog-summary")).toHaveText(`${api.images.length - missing} of ${api.images.length} present · ${missing} missing`);
  for (const i of api.images) {
    const row = page.locator(`tr[data-image="${i.kind}:${i.version}"]`);
    await expect(row).toHaveAttribute("data-present", String(i.present));
    await expect(row).toContainText(i.present ? /ready|outdated recipe/ : /missing/);
  }
  if (missing > 0) await expect(page.getByRole("button", { name: `Build missing (${missing})` })).toBeVisible();
});

test("build: the output streams into the page and the operation ends done", async () => {
  const api = (await (await page.context().request.get("/api/v1/images")).json()) as { images: { kind: string; version: string; upToDate: boolean }[] };
  // An up-to-date image: the build is a recipe check, so the test costs seconds, not a compile.
  const img = api.images.find((i) => i.upToDate);
  test.skip(!img, "no up-to-date image on this engine");
  await page.getByRole("button", { name: `Rebuild ${img!.kind}:${img!.version}` }).click();
  const op = page.getByTestId("image-op");
  await expect(op.getByRole("heading", { name: `build ${img!.kind}:${img!.version}` })).toBeVisible();
  await expect(op.getByTestId("op-done")).toBeVisible({ timeout: 120_000 });
  await expect(op.getByRole("log", { name: "Build output" })).toContainText(`${img!.kind}:${img!.version} is up to date`);
  await expect(op.getByTestId("build-progress")).toContainText(`Image 1 of 1`);
});

test("preload: per tarball loaded, skipped or failed, with reason, bytes and rate; run again", async () => {
  fs.mkdirSync(sharedDir, { recursive: true });
  tinyImage(LOADED, `loaded ${TAG}\n`.repeat(20_000));
  tinyImage(SKIPPED, `skipped ${TAG}\n`);
  docker(["save", "-o", path.join(sharedDir, "a-loaded.tar"), LOADED]);
  docker(["save", "-o", path.join(sharedDir, "b-skipped.tar"), SKIPPED]);
  docker(["rmi", LOADED]);
  // A truncated archive: the first 1.5 KB of a real one.
  fs.writeFileSync(path.join(sharedDir, "c-broken.tar"), fs.readFileSync(path.join(sharedDir, "b-skipped.tar")).subarray(0, 1536));
  const loadedSize = fs.statSync(path.join(sharedDir, "a-loaded.tar")).size;

  await page.goto("/images");
  const panel = page.getByTestId("preload");
  await expect(panel.getByRole("heading", { name: "Preload from shared-images" })).toBeVisible();
  await panel.getByRole("button", { name: "Run preload again" }).click();
  await expect(panel.getByTestId("preload-summary")).toContainText("1 loaded · 1 skipped · 1 failed", { timeout: 60_000 });
  await expect(panel.getByRole("button", { name: "Run preload again" })).toBeEnabled();

  const row = (f: string) => panel.locator(`tr[data-preload-file="${f}"]`);
  await expect(row("a-loaded.tar")).toHaveAttribute("data-preload-status", "loaded");
  await expect(row("a-loaded.tar")).toContainText(LOADED);
  await expect(row("a-loaded.tar")).toContainText(/\d+(\.\d+)? MB\/s/);
  await expect(row("b-skipped.tar")).toHaveAttribute("data-preload-status", "skipped");
  await expect(row("b-skipped.tar").getByTestId("preload-reason")).toHaveText("already present with the same image id");
  await expect(row("c-broken.tar")).toHaveAttribute("data-preload-status", "failed");
  await expect(row("c-broken.tar").getByTestId("preload-reason")).toContainText("malformed archive: truncated");
  const api = (await (await page.context().request.get("/api/v1/preload")).json()) as { files: { file: string; read: number; size: number }[] };
  const a = api.files.find((f) => f.file === "a-loaded.tar")!;
  expect(a.size).toBe(loadedSize);
  expect(a.read).toBe(loadedSize);
  // The engine really has the image again.
  expect(docker(["image", "inspect", "--format", "{{.Id}}", LOADED])).toMatch(/^sha256:/);
  await shot(page, "images");

  // Run again: now the first file is present too, so it is skipped; the broken one still fails.
  await panel.getByRole("button", { name: "Run preload again" }).click();
  await expect(panel.getByTestId("preload-summary")).toContainText("0 loaded · 2 skipped · 1 failed", { timeout: 60_000 });
});

test("charts: the list's sparklines gain points once stats arrive; per service and host totals", async () => {
  test.setTimeout(900_000);
  await createFixture(page, NAME);
  await page.goto("/");
  const row = page.locator(`tr[data-instance="${NAME}"]`);
  for (const metric of ["cpu", "mem", "net"]) {
    // Two samples make a line: the sampler runs every 10 s while a page watches.
    await expect(row.locator(`svg[data-chart="${metric}"]`)).toHaveAttribute("data-points", /^([2-9]|\d\d+)$/, { timeout: 60_000 });
    await expect(row.locator(`svg[data-chart="${metric}"] path`)).toHaveAttribute("d", /^M[\d.]+,[\d.]+ L/);
  }
  await expect(row.locator('svg[data-chart="mem"]')).toHaveAttribute("aria-label", new RegExp(`^Memory of ${NAME}, last 15 minutes: now \\d`));
  await shot(page, "instances");

  // A new page load draws the history at once (the server's ring buffer), before the next sample.
  await page.reload();
  await expect(row.locator('svg[data-chart="cpu"]')).toHaveAttribute("data-points", /^([2-9]|\d\d+)$/, { timeout: 5_000 });

  await page.goto(`/instances/${NAME}`);
  await page.getByRole("tab", { name: "services" }).click();
  const charts = page.getByTestId("service-charts");
  for (const svc of ["app", "db", "web"]) {
    await expect(charts.locator(`tr[data-service-chart="${svc}"] svg[data-chart="mem"]`)).toHaveAttribute("data-points", /^([2-9]|\d\d+)$/, { timeout: 30_000 });
  }
  await shot(page, "service-charts");

  await page.goto("/host");
  const host = page.getByTestId("host-charts");
  for (const metric of ["cpu", "mem", "net"]) {
    await expect(host.locator(`svg[data-chart="${metric}"]`)).toHaveAttribute("data-points", /^([2-9]|\d\d+)$/, { timeout: 30_000 });
  }
  await expect(page.getByRole("heading", { name: "Engine" })).toBeVisible({ timeout: 60_000 });
  await shot(page, "host");
});
