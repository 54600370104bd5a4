import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineConfig } from "@playwright/test";

/**
 * End-to-end tests of the dashboard against the real engine, with Debian's chromium (never a
 * downloaded browser). The server runs from a throwaway data folder on a non-default port; the
 * fixture app stands in for Moodle so a create takes seconds.
 */
export const E2E_PORT = Number(process.env.MDIND_E2E_PORT ?? 7861);
export const E2E_PASSWORD = "e2e-admin-password";

// Made once by the runner process (workers inherit it through the environment).
process.env.MDIND_E2E_HOME ??= fs.mkdtempSync(path.join(os.tmpdir(), "mdind-e2e-"));

export default defineConfig({
  testDir: "tests/e2e",
  timeout: 10 * 60_000,
  expect: { timeout: 20_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [["list"]],
  outputDir: "test-results",
  // The shared server's data folder goes only after every spec file has run.
  globalTeardown: "./tests/e2e/teardown.ts",
  use: {
    baseURL: `http://127.0.0.1:${E2E_PORT}`,
    browserName: "chromium",
    viewport: { width: 1440, height: 900 },
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: "/usr/bin/chromium",
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    },
  },
  webServer: {
    // Production build by default: in a shared working tree, dev mode's file watcher reloads pages
    // whenever anyone saves a file, which breaks a test mid-click. MDIND_E2E_DEV=1 skips the build.
    // MDIND_E2E_SKIP_BUILD=1 reuses the last `next build`.
    command:
      process.env.MDIND_E2E_DEV === "1"
        ? "npx tsx server.ts"
        : `${process.env.MDIND_E2E_SKIP_BUILD === "1" ? "" : "npx next build && "}NODE_ENV=production npx tsx server.ts`,
    url: `http://127.0.0.1:${E2E_PORT}/api/v1/health`,
    timeout: 600_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      MDIND_HOME: process.env.MDIND_E2E_HOME,
      MDIND_DASHBOARD_PORT: String(E2E_PORT),
      MDIND_DASHBOARD_HOST: "127.0.0.1",
      MDIND_ADMIN_PASSWORD: E2E_PASSWORD,
      // The fixture app is on offer in the form, but not the default: first-run.spec.ts starts
      // from an empty library, as a new user does.
      MDIND_OFFER_FIXTURE: "1",
      // Never Moodle's download site from a test: a port fetch refuses, so the probe fails at once.
      MDIND_MOODLE_DOWNLOAD_URL: process.env.MDIND_MOODLE_DOWNLOAD_URL ?? "http://127.0.0.1:9",
      // Another data folder may share this engine: report, never clean up someone else's instances.
      MDIND_RECONCILE_ON_START: "report",
      // The preload's folder is the test's own (images.spec.ts drops tarballs there), never /shared-images.
      MDIND_SHARED_IMAGES: path.join(process.env.MDIND_E2E_HOME, "shared-images"),
      NEXT_TELEMETRY_DISABLED: "1",
    },
  },
});
