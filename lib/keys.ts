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
  // Written whole to a temp file, then linked into place: link fails if the key exists, so of two
  // processes creating it at once one wins, and neither can read a file still being written.
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  await fs.writeFile(tmp, randomBytes(32).toString("base64url"), { mode: 0o600 });
  try {
    await fs.link(tmp, file).catch((e: NodeJS.ErrnoException) => {
      if (e.code !== "EEXIST") throw e;
    });
  } finally {
    await fs.rm(tmp, { force: true });
  }
  const k = Buffer.from((await fs.readFile(file, "utf8")).trim(), "base64url");
  if (k.length !== 32) throw new Error(`${file} does not hold a 32-byte key; remove it to make a new one`);
  cache.set(file, k);
  return k;
}
