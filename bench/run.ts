/**
 * npm run bench -- <name>: runs bench/<name>.ts. Only known names are imported, so the argument
 * can never load an arbitrary module.
 */
const BENCHES = ["create", "density", "density-idle", "serve", "preload", "dashboard", "reliability", "fuzz"] as const;

const which = process.argv[2] ?? "";
export {};
if (!(BENCHES as readonly string[]).includes(which)) {
  process.stderr.write(`usage: npm run bench -- <${BENCHES.join("|")}>\n`);
  process.exit(2);
}
await import(`./${which}.ts`);
