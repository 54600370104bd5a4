import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { paths } from "./config";

/**
 * A 32-byte secret kept in state/<name>.key (0600), made on first use and kept across restarts. Two
 * processes (the dashboard and the mail catcher) read the same file, so both sign and check alike.
 */
const cache = new Map<string, Buffer>();

export async function stateKey(name: string): Promise<Buffer> {
  const file = path.join(paths.state(), `${name}.key`);
  const hit = cache.get(file);
  if (hit) return hit;
  await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  // "wx": of two processes creating it at once, one wins and both then read the winner's key.
  await fs.writeFile(file, randomBytes(32).toString("base64url"), { flag: "wx", mode: 0o600 }).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== "EEXIST") throw e;
  });
  const k = Buffer.from((await fs.readFile(file, "utf8")).trim(), "base64url");
  cache.set(file, k);
  return k;
}
