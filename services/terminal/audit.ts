import fs from "node:fs/promises";
import path from "node:path";
import { settings } from "../../lib/config";

/** Host log of terminal sessions: one JSON object per line, appended, never rewritten. */
export const auditFile = () => path.join(settings().home, "logs", "terminal-audit.log");

let chain: Promise<void> = Promise.resolve();

/** Lines are written in order; a failing disk is reported on stderr and never breaks a terminal. */
export function audit(event: "terminal_start" | "terminal_end" | "terminal_refused", fields: Record<string, unknown>): Promise<void> {
  const line = `${JSON.stringify({ ts: new Date().toISOString(), event, ...fields })}\n`;
  chain = chain.then(async () => {
    try {
      await fs.mkdir(path.dirname(auditFile()), { recursive: true, mode: 0o750 });
      await fs.appendFile(auditFile(), line, { mode: 0o640 });
    } catch (e) {
      process.stderr.write(`terminal audit write failed: ${e instanceof Error ? e.message : String(e)}\n`);
    }
  });
  return chain;
}

/** Resolves when every line queued so far is on disk (tests, shutdown). */
export function auditSettled(): Promise<void> {
  return chain;
}
