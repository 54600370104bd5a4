import { createHash, randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { docker } from "../lib/docker";
import { AppError } from "../lib/errors";
import { validateName } from "../lib/names";
import { openDirInside, openFileIn, removeIn, type PinnedDir } from "../lib/nofollow";
import { LOGIN_ENTRY_PATH, LOGIN_ENTRY_URL } from "./login-entry";
import { containerName } from "./stack";
import { configDir, dataDir, readRecord } from "./store";
import { wakeCron } from "./cron";

/**
 * "Open as admin": a one-time link into the site. A random 256-bit token goes to the caller only;
 * moodledata/.mdind-login/<sha256(token)>.json keeps its hash (as the file name) and expiry. The
 * entry the product mounts into the site (instances/php/mdind_login.php) claims that file by
 * rename (single use), checks the expiry, deletes it and logs the admin in. No password travels.
 * moodledata is writable by the site's PHP, so the folder and file are reached without following
 * links (lib/nofollow).
 */
export const LOGIN_LINK_TTL_S = 60;
const DIR = ".mdind-login";
const WWW_DATA = 33;
const HASH_FILE = /^[0-9a-f]{64}\.json(\.used-[0-9a-f]{16})?$/;

export async function createLoginLink(name: string): Promise<{ url: string; expiresAt: string }> {
  validateName(name);
  const rec = await readRecord(name);
  await requireEntry(name, rec.spec.web.server, rec.spec.web.version);
  await wakeCron(name);
  const token = randomBytes(32).toString("base64url");
  const hash = createHash("sha256").update(token).digest("hex");
  const expires = Math.floor(Date.now() / 1000) + LOGIN_LINK_TTL_S;
  const dir = await openDirInside(dataDir(name, "moodledata"), DIR, { create: true, mode: 0o700 });
  try {
    // The entry runs as www-data and must rename and delete in this folder.
    await fs.chown(dir.path, WWW_DATA, WWW_DATA);
    await fs.chmod(dir.path, 0o700);
    await pruneExpired(dir);
    const fh = await openFileIn(dir, `${hash}.json`, "wx", 0o600);
    try {
      await fh.writeFile(JSON.stringify({ expires }));
      await fh.chown(WWW_DATA, WWW_DATA);
    } finally {
      await fh.close();
    }
  } finally {
    await dir.close();
  }
  const base = rec.url.replace(/\/+$/, "");
  return { url: `${base}${LOGIN_ENTRY_URL}?t=${token}`, expiresAt: new Date(expires * 1000).toISOString() };
}

/** Links nobody opened: gone once older than the TTL (by mtime, read without following links). */
async function pruneExpired(dir: PinnedDir): Promise<void> {
  const cutoff = Date.now() - LOGIN_LINK_TTL_S * 1000;
  for (const f of await fs.readdir(dir.path)) {
    if (!HASH_FILE.test(f)) continue;
    const st = await fs.lstat(path.join(dir.path, f)).catch(() => null);
    if (st && st.mtimeMs < cutoff) await removeIn(dir, f);
  }
}

/**
 * An instance created before login links has neither the mount nor the web location; say so
 * instead of handing out a link that answers 404.
 */
async function requireEntry(name: string, web: string, version: string): Promise<void> {
  const info = await docker()
    .getContainer(containerName(name, "app"))
    .inspect()
    .catch(() => null);
  if (!info) throw new AppError("conflict", `${name} has no app container; start it first`);
  if (info.State?.Running !== true) throw new AppError("conflict", `${name} is not running; start it first`);
  const mounted = (info.Mounts ?? []).some((m) => m.Destination === LOGIN_ENTRY_PATH);
  const site = await fs.readFile(path.join(configDir(name, web, version), "site.conf"), "utf8").catch(() => "");
  if (!mounted || !site.includes(LOGIN_ENTRY_URL)) {
    throw new AppError(
      "conflict",
      `${name} was created before one-time admin links: its ${mounted ? "web config" : "containers"} lack the login entry. Use the admin password; instances created since have it.`,
    );
  }
}
