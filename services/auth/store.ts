import fs from "node:fs";
import path from "node:path";
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { paths } from "../../lib/config";
import { ConflictError, NotFoundError, ValidationError } from "../../lib/errors";
import { readJson, withFileLock, writeFileAtomic } from "../../lib/lock";
import { generatePassword, hashPassword, verifyPassword } from "./password";

/**
 * The auth store: the admin password hash and API token hashes in state/auth.json, sessions in
 * state/sessions.json (both 0600). Only hashes are kept: a leaked state folder gives no way in.
 * Reads go to disk (with an mtime cache) rather than module memory so the custom server's
 * WebSocket upgrade and Next's bundled route code — two module graphs — always agree.
 */
export interface TokenRecord {
  id: string;
  name: string;
  hash: string;
  createdAt: string;
  lastUsedAt?: string;
}

interface AuthFile {
  version: 1;
  admin: { hash: string; source: "generated" | "env" | "user"; changedAt: string } | null;
  tokens: TokenRecord[];
}

export interface SessionRecord {
  /** sha256 of the cookie value. */
  id: string;
  /** CSRF token bound to this session; the UI sends it back in x-mdind-csrf. */
  csrf: string;
  user: string;
  createdAt: number;
  expiresAt: number;
}

interface SessionsFile {
  sessions: SessionRecord[];
}

const authFile = () => path.join(paths.state(), "auth.json");
const sessionsFile = () => path.join(paths.state(), "sessions.json");
const lockFile = () => path.join(paths.state(), "locks", "auth.lock");

export const sha256 = (s: string) => createHash("sha256").update(s).digest("base64url");

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export function sessionTtlMs(): number {
  const h = Number.parseFloat(process.env.MDIND_SESSION_TTL_HOURS ?? "12");
  return (Number.isFinite(h) && h > 0 ? Math.min(h, 24 * 30) : 12) * 3600_000;
}

async function readAuth(): Promise<AuthFile> {
  return readJson<AuthFile>(authFile(), { version: 1, admin: null, tokens: [] });
}

async function writeAuth(a: AuthFile): Promise<void> {
  await writeFileAtomic(authFile(), `${JSON.stringify(a, null, 2)}\n`, 0o600);
}

function mutate<T>(fn: () => Promise<T>): Promise<T> {
  return withFileLock(lockFile(), fn);
}

/**
 * Make sure an admin password exists. MDIND_ADMIN_PASSWORD, when set, is authoritative (its hash
 * is stored on every start). Otherwise the first start generates one and returns it so the server
 * can print it once; later starts return nothing.
 */
export async function ensureAdmin(): Promise<{ generatedPassword?: string; source: "generated" | "env" | "user" }> {
  fs.mkdirSync(paths.state(), { recursive: true, mode: 0o700 });
  return mutate(async () => {
    const a = await readAuth();
    const env = process.env.MDIND_ADMIN_PASSWORD;
    if (env) {
      if (!a.admin || a.admin.source !== "env" || !(await verifyPassword(env, a.admin.hash))) {
        a.admin = { hash: await hashPassword(env), source: "env", changedAt: new Date().toISOString() };
        await writeAuth(a);
      }
      return { source: "env" as const };
    }
    if (a.admin && a.admin.source !== "env") return { source: a.admin.source };
    const pw = generatePassword();
    a.admin = { hash: await hashPassword(pw), source: "generated", changedAt: new Date().toISOString() };
    await writeAuth(a);
    return { generatedPassword: pw, source: "generated" as const };
  });
}

export async function checkPassword(password: string): Promise<boolean> {
  if (typeof password !== "string" || password.length === 0 || password.length > 1024) return false;
  const env = process.env.MDIND_ADMIN_PASSWORD;
  if (env) return safeEqual(sha256(password), sha256(env));
  const a = await readAuth();
  if (!a.admin) return false;
  return verifyPassword(password, a.admin.hash);
}

export async function changePassword(current: string, next: string, keepSessionId?: string): Promise<void> {
  if (process.env.MDIND_ADMIN_PASSWORD) {
    throw new ConflictError("the admin password is set by MDIND_ADMIN_PASSWORD; change it there", "password");
  }
  if (!(await checkPassword(current))) throw new ValidationError("current password is wrong", "current");
  if (next.length < 10) throw new ValidationError("the new password needs at least 10 characters", "password");
  await mutate(async () => {
    const a = await readAuth();
    a.admin = { hash: await hashPassword(next), source: "user", changedAt: new Date().toISOString() };
    await writeAuth(a);
    // Everyone else who knew the old password is logged out.
    const s = readSessions();
    s.sessions = s.sessions.filter((x) => keepSessionId !== undefined && x.id === sha256(keepSessionId));
    await writeSessions(s);
  });
}

// Sessions. Cached by mtime: authenticate() runs on every request and must stay cheap.
let sessionCache: { mtimeMs: number; size: number; file: string; data: SessionsFile } | null = null;

function readSessions(): SessionsFile {
  const file = sessionsFile();
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return { sessions: [] };
  }
  if (sessionCache && sessionCache.file === file && sessionCache.mtimeMs === st.mtimeMs && sessionCache.size === st.size) {
    return structuredClone(sessionCache.data);
  }
  try {
    const data = JSON.parse(fs.readFileSync(file, "utf8")) as SessionsFile;
    sessionCache = { mtimeMs: st.mtimeMs, size: st.size, file, data };
    return structuredClone(data);
  } catch {
    return { sessions: [] };
  }
}

async function writeSessions(s: SessionsFile): Promise<void> {
  sessionCache = null;
  await writeFileAtomic(sessionsFile(), `${JSON.stringify(s)}\n`, 0o600);
}

export async function createSession(user = "admin", now = Date.now()): Promise<{ id: string; csrf: string; expiresAt: number }> {
  const id = randomBytes(32).toString("base64url");
  const csrf = randomBytes(24).toString("base64url");
  const expiresAt = now + sessionTtlMs();
  await mutate(async () => {
    const s = readSessions();
    s.sessions = s.sessions.filter((x) => x.expiresAt > now);
    // A cap so a script logging in in a loop cannot grow the file without bound.
    if (s.sessions.length >= 200) s.sessions.splice(0, s.sessions.length - 199);
    s.sessions.push({ id: sha256(id), csrf, user, createdAt: now, expiresAt });
    await writeSessions(s);
  });
  return { id, csrf, expiresAt };
}

export function getSession(id: string | undefined, now = Date.now()): SessionRecord | null {
  if (!id || id.length > 200) return null;
  const h = sha256(id);
  const rec = readSessions().sessions.find((x) => safeEqual(x.id, h));
  if (!rec || rec.expiresAt <= now) return null;
  return rec;
}

export async function deleteSession(id: string | undefined): Promise<void> {
  if (!id) return;
  const h = sha256(id);
  await mutate(async () => {
    const s = readSessions();
    const before = s.sessions.length;
    s.sessions = s.sessions.filter((x) => x.id !== h);
    if (s.sessions.length !== before) await writeSessions(s);
  });
}

// API tokens: "mdind_<id>_<secret>". The id finds the record; only sha256(secret) is stored.
const TOKEN_RE = /^mdind_([a-f0-9]{8})_([A-Za-z0-9_-]{32,64})$/;
export const tokenNameSchemaRe = /^[A-Za-z0-9 ._-]{1,64}$/;

export async function createToken(name: string): Promise<{ id: string; name: string; token: string; createdAt: string }> {
  if (!tokenNameSchemaRe.test(name)) throw new ValidationError("name: 1–64 letters, digits, space, '.', '_' or '-'", "name");
  const id = randomBytes(4).toString("hex");
  const secret = randomBytes(32).toString("base64url");
  const createdAt = new Date().toISOString();
  await mutate(async () => {
    const a = await readAuth();
    if (a.tokens.some((t) => t.name === name)) throw new ConflictError(`a token named '${name}' exists`, "name");
    if (a.tokens.length >= 100) throw new ConflictError("at most 100 tokens; revoke one first", "name");
    a.tokens.push({ id, name, hash: sha256(secret), createdAt });
    await writeAuth(a);
  });
  return { id, name, token: `mdind_${id}_${secret}`, createdAt };
}

export async function listTokens(): Promise<Omit<TokenRecord, "hash">[]> {
  const a = await readAuth();
  return a.tokens.map(({ hash: _hash, ...rest }) => rest);
}

export async function revokeToken(id: string): Promise<void> {
  await mutate(async () => {
    const a = await readAuth();
    const before = a.tokens.length;
    a.tokens = a.tokens.filter((t) => t.id !== id);
    if (a.tokens.length === before) throw new NotFoundError(`no token with id '${id}'`);
    await writeAuth(a);
  });
}

export async function verifyToken(token: string): Promise<Omit<TokenRecord, "hash"> | null> {
  const m = TOKEN_RE.exec(token);
  if (!m) return null;
  const a = await readAuth();
  const rec = a.tokens.find((t) => t.id === m[1]);
  if (!rec || !safeEqual(rec.hash, sha256(m[2]))) return null;
  const { hash: _hash, ...rest } = rec;
  return rest;
}
