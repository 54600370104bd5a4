import { randomBytes } from "node:crypto";
import fs from "node:fs";
import type { TestProject } from "vitest/node";
import { FULL, purgeHome, startServer, SUMMARY_FILE, tempHome, waitStatus, type Server } from "./helpers";

/**
 * One dashboard for the whole reliability project (a `next dev` server takes a minute to start on
 * a busy 2-core machine, and only one may run per checkout), plus two small fixture instances the
 * scenarios share read-mostly. Teardown removes everything and prints the summary table.
 */
declare module "vitest" {
  export interface ProvidedContext {
    rel: { base: string; token: string; password: string; home: string; logFile: string; shared: string[] };
  }
}

/**
 * Container names are global on an engine: a run killed before its teardown (a CI job cut off, a
 * developer's Ctrl+C) leaves mdind-rel-a-db behind with its data dir still on disk, and a fixed
 * name would then be refused to every later run on that engine. Each run's names are its own.
 */
const RUN = randomBytes(2).toString("hex");
export const SHARED = [`rel-a-${RUN}`, `rel-b-${RUN}`];

export default async function setup(project: TestProject) {
  fs.writeFileSync(SUMMARY_FILE, "");
  const started = Date.now();
  const home = tempHome("mdind-rel-srv-");
  let server: Server | null = null;
  const logFile = `${home}.server.log`;
  let flush: NodeJS.Timeout | null = null;
  try {
    server = await startServer({ MDIND_PORT_RANGE: "8040-8089" }, home);
    const s = server;
    // The server's stdout goes to a file the tests read (structured logs, secrets never logged).
    let written = 0;
    const write = () => {
      const add = s.lines.slice(written);
      written += add.length;
      if (add.length) fs.appendFileSync(logFile, `${add.join("\n")}\n`);
    };
    flush = setInterval(write, 500);
    const created = await Promise.all(
      SHARED.map((name) => s.api("POST", "/api/v1/instances", { name, moodle: "fixture", install: true, template: false })),
    );
    for (const r of created) if (r.status !== 202) throw new Error(`shared instance: ${r.status} ${r.text}`);
    for (const name of SHARED) await waitStatus(s, name, ["running"], 600_000);
    write();
    process.stdout.write(`reliability setup: server and ${SHARED.length} instances in ${((Date.now() - started) / 1000).toFixed(0)} s (${FULL ? "full" : "ci"} profile)\n`);
    project.provide("rel", { base: s.base, token: s.token, password: s.password, home, logFile, shared: SHARED });
  } catch (e) {
    // CI keeps only the tail of the output: the server's last lines say why the setup failed.
    if (server) process.stderr.write(`reliability setup failed; the server's last lines:\n${server.lines.slice(-40).join("\n")}\n`);
    if (flush) clearInterval(flush);
    await server?.stop();
    await purgeHome(home);
    fs.rmSync(logFile, { force: true });
    throw e;
  }

  return async () => {
    if (flush) clearInterval(flush);
    const s = server!;
    for (const name of SHARED) await s.api("DELETE", `/api/v1/instances/${name}?wait=1`).catch(() => undefined);
    await s.stop();
    await purgeHome(home);
    fs.rmSync(logFile, { force: true });
    const lines = fs.readFileSync(SUMMARY_FILE, "utf8").split("\n").filter(Boolean);
    const width = Math.max(20, ...lines.map((l) => l.length));
    const bar = "─".repeat(width + 2);
    process.stdout.write(`\n┌${bar}┐\n│ ${"reliability summary".padEnd(width)} │\n├${bar}┤\n`);
    for (const l of lines) process.stdout.write(`│ ${l.padEnd(width)} │\n`);
    process.stdout.write(`└${bar}┘\n`);
  };
}
