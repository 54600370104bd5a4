import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { defineConfig } from "@playwright/test";

/**
 * Playwright config for the web terminal suite alone: its own dashboard (tsx server.ts) on its own
 * port with a throwaway MDIND_HOME, so it can run next to other suites. The home is chosen once in
 * the main process; workers inherit it through the environment.
 */
process.env.MDIND_E2E_TERM_HOME ??= fs.mkdtempSync(path.join(os.tmpdir(), "mdind-term-e2e-"));
process.env.MDIND_E2E_TERM_PASSWORD ??= "term-e2e-password-1234";
process.env.MDIND_E2E_TERM_PORT ??= "7871";
const root = path.resolve(import.meta.dirname, "..", "..");
const port = process.env.MDIND_E2E_TERM_PORT;

export default defineConfig({
  testDir: import.meta.dirname,
  testMatch: /terminal\.spec\.ts$/,
  workers: 1,
  fullyParallel: false,
  timeout: 180_000,
  expect: { timeout: 20_000 },
  reporter: [["list"]],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
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
    command: "npx tsx server.ts",
    cwd: root,
    url: `http://127.0.0.1:${port}/api/v1/health`,
    timeout: 240_000,
    reuseExistingServer: false,
    stdout: "pipe",
    stderr: "pipe",
    env: {
      MDIND_HOME: process.env.MDIND_E2E_TERM_HOME,
      MDIND_ADMIN_PASSWORD: process.env.MDIND_E2E_TERM_PASSWORD,
      MDIND_DASHBOARD_PORT: port,
      MDIND_DASHBOARD_HOST: "127.0.0.1",
      MDIND_DEFAULT_MOODLE: "fixture",
      // Short enough that the "browser tab closed" case is observable within a test, long enough
      // for a reload of a dev-mode page on a busy machine to re-attach.
      MDIND_TERMINAL_GRACE_SECONDS: "30",
      MDIND_TERMINAL_MAX_PER_USER: "5",
    },
  },
});
