import fs from "node:fs";

/** Remove the throwaway data folder playwright.config.ts made, once all spec files are done. */
export default function teardown(): void {
  const home = process.env.MDIND_E2E_HOME;
  if (home?.includes("mdind-e2e-")) fs.rmSync(home, { recursive: true, force: true, maxRetries: 10, retryDelay: 500 });
}
