#!/usr/bin/env node
// Entry point for the `moodle-dind` CLI. The sources are TypeScript; tsx's loader runs them
// without a build step (Node 20 cannot run .ts itself).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { register } from "tsx/esm/api";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
process.env.MDIND_APP_ROOT ??= root;
// Failure until main() says otherwise: a command whose promise never settles (the event loop
// drains while it waits) must not end with exit 0.
process.exitCode = 1;
register();
const { main, exitCodeFor, oneLine } = await import(path.join(root, "edge", "cli", "main.ts"));
try {
  process.exitCode = await main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`moodle-dind: ${oneLine(e)}\n`);
  process.exitCode = exitCodeFor(e);
}
