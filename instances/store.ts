import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { paths } from "../lib/config";
import { NotFoundError } from "../lib/errors";
import { readJson, writeFileAtomic } from "../lib/lock";
import type { InstanceSpec } from "./spec";

/**
 * One folder per instance, laid out like the model we grew from:
 *   config/<service>-<version>/   user-editable service config
 *   logs/<service>-<version>/     written by the services
 *   data/code, data/moodledata, data/db
 *   instance.json                 the record (no secrets)
 *   secrets.json, secrets/        0600, never printed
 */
export type InstanceState = "creating" | "installing" | "ready" | "failed" | "removing";

export interface InstanceRecord {
  name: string;
  spec: InstanceSpec;
  n: number;
  port: number;
  subnet: string;
  url: string;
  state: InstanceState;
  createdAt: string;
  /** buildId: the Moodle library build the code came from (lib/moodle/library.ts). */
  source: { branch: string; release: string; version?: string; publicDir: boolean; origin: string; buildId?: string; vendor?: boolean };
  shared: boolean;
  install?: { at: string; durationMs: number; fromTemplate: boolean };
  error?: string;
}

export interface Secrets {
  dbPassword: string;
  adminUser: string;
  adminPassword: string;
}

export const instanceDir = (name: string) => paths.instance(name);
export const recordFile = (name: string) => path.join(instanceDir(name), "instance.json");
const secretsFile = (name: string) => path.join(instanceDir(name), "secrets.json");
export const dbPasswordFile = (name: string) => path.join(instanceDir(name), "secrets", "db_password");

export const dataDir = (name: string, sub: "code" | "moodledata" | "db") => path.join(instanceDir(name), "data", sub);
export const configDir = (name: string, service: string, version: string) =>
  path.join(instanceDir(name), "config", `${service}-${version}`);
export const logsDir = (name: string, service: string, version: string) =>
  path.join(instanceDir(name), "logs", `${service}-${version}`);

/** URL-safe random password without characters that need quoting anywhere. */
export function randomSecret(bytes = 18): string {
  return randomBytes(bytes).toString("base64url");
}

export async function writeRecord(rec: InstanceRecord): Promise<void> {
  await writeFileAtomic(recordFile(rec.name), `${JSON.stringify(rec, null, 2)}\n`);
}

export async function readRecord(name: string): Promise<InstanceRecord> {
  const rec = await readJson<InstanceRecord | null>(recordFile(name), null);
  if (!rec) throw new NotFoundError(`no instance named '${name}'`);
  return rec;
}

export async function updateRecord(name: string, patch: Partial<InstanceRecord>): Promise<InstanceRecord> {
  const rec = { ...(await readRecord(name)), ...patch };
  await writeRecord(rec);
  return rec;
}

export async function listRecords(): Promise<InstanceRecord[]> {
  let names: string[] = [];
  try {
    names = await fs.readdir(paths.instances());
  } catch {
    return [];
  }
  const out: InstanceRecord[] = [];
  for (const n of names.sort()) {
    const rec = await readJson<InstanceRecord | null>(recordFile(n), null).catch(() => null);
    if (rec) out.push(rec);
  }
  return out;
}

export async function writeSecrets(name: string, s: Secrets): Promise<void> {
  await fs.mkdir(path.dirname(dbPasswordFile(name)), { recursive: true, mode: 0o700 });
  await writeFileAtomic(secretsFile(name), `${JSON.stringify(s, null, 2)}\n`, 0o600);
  await writeFileAtomic(dbPasswordFile(name), s.dbPassword, 0o600);
}

export async function readSecrets(name: string): Promise<Secrets> {
  const s = await readJson<Secrets | null>(secretsFile(name), null);
  if (!s) throw new NotFoundError(`no secrets for instance '${name}'`);
  return s;
}

/** Make the folder skeleton. Log folders are world-writable: each service writes as its own uid. */
export async function makeSkeleton(name: string, dirs: { config: string[]; logs: string[] }): Promise<void> {
  const root = instanceDir(name);
  await fs.mkdir(root, { recursive: true, mode: 0o755 });
  for (const d of ["code", "moodledata", "db"] as const) await fs.mkdir(dataDir(name, d), { recursive: true });
  for (const c of dirs.config) await fs.mkdir(path.join(root, "config", c), { recursive: true });
  for (const l of dirs.logs) {
    const p = path.join(root, "logs", l);
    await fs.mkdir(p, { recursive: true });
    await fs.chmod(p, 0o1777);
  }
}

export async function removeFolder(name: string): Promise<void> {
  await fs.rm(instanceDir(name), { recursive: true, force: true, maxRetries: 3 });
}
