import { randomBytes } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { paths } from "../../lib/config";
import { AppError } from "../../lib/errors";
import { readRecord, readSecrets } from "../../instances/store";
import { validateName } from "../../lib/names";
import { serviceIp } from "../../networks/subnets";

/**
 * One-click DB admin: the dashboard mints a one-time login for an instance's database and sends the
 * browser to /adminer/?mdind_token=…; Adminer's wrapper (dind/host/adminer/index.php) reads the
 * token file, deletes it, and logs in. The password never appears in a URL or in the browser, and a
 * token is good once, for TOKEN_TTL_S seconds. Adminer reaches the DB at 172.20.N.12 directly: the
 * host is the gateway of every instance network.
 */
const TOKEN_TTL_S = 60;
const TOKEN_RE = /^[A-Za-z0-9_-]{43}$/;

export const adminerTokenDir = () => path.join(paths.state(), "adminer");

export function adminerBackend(): string {
  return (process.env.MDIND_ADMINER_URL ?? `http://127.0.0.1:${process.env.MDIND_ADMINER_PORT ?? "9100"}`).replace(/\/+$/, "");
}

export interface AdminerLogin {
  driver: "pgsql" | "server";
  server: string;
  username: string;
  db: string;
}

/** Adminer's driver id and address for an instance's database. */
export function adminerTarget(engine: string, n: number): AdminerLogin {
  return { driver: engine === "postgres" ? "pgsql" : "server", server: serviceIp(n, "db"), username: "moodle", db: "moodle" };
}

async function pruneStale(dir: string): Promise<void> {
  const now = Date.now();
  for (const f of await fs.readdir(dir).catch(() => [] as string[])) {
    if (!f.endsWith(".json")) continue;
    const st = await fs.stat(path.join(dir, f)).catch(() => null);
    if (st && now - st.mtimeMs > 5 * 60_000) await fs.rm(path.join(dir, f), { force: true });
  }
}

/**
 * The target a one-time login names, read without spending it (Adminer's wrapper deletes the file),
 * so the proxy can grant that database to the browser that uses the link. Null for an unknown,
 * expired or malformed token. `tunnel` is the id of the tunnel a cluster login goes through.
 */
export async function peekAdminerLogin(token: string): Promise<(Pick<AdminerLogin, "driver" | "server"> & { tunnel?: string }) | null> {
  if (!TOKEN_RE.test(token)) return null;
  const raw = await fs.readFile(path.join(adminerTokenDir(), `${token}.json`), "utf8").catch(() => null);
  if (raw === null) return null;
  try {
    const d = JSON.parse(raw) as { driver?: unknown; server?: unknown; expires?: unknown; tunnel?: unknown };
    if (typeof d.expires !== "number" || d.expires * 1000 < Date.now()) return null;
    if ((d.driver !== "pgsql" && d.driver !== "server") || typeof d.server !== "string") return null;
    return { driver: d.driver, server: d.server, ...(typeof d.tunnel === "string" ? { tunnel: d.tunnel } : {}) };
  } catch {
    return null;
  }
}

export interface MintedLogin {
  location: string;
  login: AdminerLogin;
  expiresAt: string;
}

/** Hand a path the Adminer user can read (it runs as its own user, www-data in the host image). */
export async function chownToAdminer(...files: string[]): Promise<void> {
  const uid = Number.parseInt(process.env.MDIND_ADMINER_UID ?? "", 10);
  if (!Number.isInteger(uid) || uid <= 0 || process.getuid?.() !== 0) return;
  for (const f of files) await fs.chown(f, uid, uid);
}

/** Write a one-time login file for `login` and return the path to send the browser to. */
export async function writeAdminerLogin(name: string, login: AdminerLogin, password: string, tunnel?: string): Promise<MintedLogin> {
  const token = randomBytes(32).toString("base64url");
  if (!TOKEN_RE.test(token)) throw new AppError("internal", "token encoding");
  const dir = adminerTokenDir();
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  await pruneStale(dir);
  const expires = Math.floor(Date.now() / 1000) + TOKEN_TTL_S;
  const file = path.join(dir, `${token}.json`);
  await fs.writeFile(file, JSON.stringify({ ...login, password, instance: name, expires, ...(tunnel ? { tunnel } : {}) }), { mode: 0o600 });
  await chownToAdminer(dir, file);
  return { location: `/adminer/?mdind_token=${token}`, login, expiresAt: new Date(expires * 1000).toISOString() };
}

/** Mint a one-time Adminer login for local instance `name`; returns the path to send the browser to. */
export async function mintAdminerLogin(name: string): Promise<MintedLogin> {
  validateName(name);
  const rec = await readRecord(name);
  const secrets = await readSecrets(name);
  return writeAdminerLogin(name, adminerTarget(rec.spec.db.engine, rec.n), secrets.dbPassword);
}
