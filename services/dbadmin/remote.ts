import fs from "node:fs/promises";
import path from "node:path";
import { execOn } from "../../lib/cluster/engine-io";
import { AppError, engineError } from "../../lib/errors";
import { closeTunnel, liveTunnel, openDbTunnel, type DbKind } from "../cluster/dbtunnel";
import { clusterShellTarget } from "../cluster/terminal";
import { adminerTokenDir, chownToAdminer, writeAdminerLogin, type AdminerLogin, type MintedLogin } from "./dbadmin";
import type { DbAdminOwner } from "./owner";

/**
 * The DB admin for an instance of a cluster started here: its database is reached through a tunnel
 * (services/cluster/dbtunnel.ts) whose 127.0.0.1 port becomes the login's server. The engine and the
 * password come from the db task itself over the node's engine (the record and secrets live on the
 * node): the image's kind label, and the password file the stack mounts for it.
 */
const KIND_LABEL = "org.moodle-dind.kind";
const DRIVER: Record<DbKind, AdminerLogin["driver"]> = { postgres: "pgsql", mariadb: "server" };

/** Marker files Adminer's wrapper checks: a 127.0.0.1 port is a DB admin target only while its tunnel is open. */
export const tunnelMarkerDir = () => path.join(adminerTokenDir(), "tunnels");
const marker = (port: number) => path.join(tunnelMarkerDir(), String(port));

/** Markers no open tunnel stands behind: a dashboard that was killed leaves its tunnels' behind. */
async function pruneMarkers(): Promise<void> {
  for (const f of await fs.readdir(tunnelMarkerDir()).catch(() => [] as string[])) {
    if (!/^\d{1,5}$/.test(f) || liveTunnel(Number(f)) === null) await fs.rm(path.join(tunnelMarkerDir(), f), { force: true });
  }
}

/**
 * A one-time login to cluster instance `name` (validated) through a tunnel of this owner's (a new
 * one, or the one it already has open to that database), or null when `name` is no cluster instance.
 */
export async function mintClusterAdminerLogin(name: string, owner: DbAdminOwner): Promise<MintedLogin | null> {
  const db = await clusterShellTarget(name, "db");
  if (!db) return null;
  const info = await db.engine
    .getContainer(db.container)
    .inspect()
    .catch((e: unknown) => {
      throw engineError(`inspecting ${name}'s db task on ${db.node}`, e);
    });
  const kind = info.Config.Labels?.[KIND_LABEL];
  if (kind !== "postgres" && kind !== "mariadb") throw new AppError("conflict", `${name}'s db task runs no moodle-dind database image (label ${KIND_LABEL}=${kind ?? "none"})`);
  const read = await execOn(db.engine, db.container, ["cat", "/run/secrets/db_password"], { what: "reading the database password on the node" });
  const password = read.stdout.toString("utf8").replace(/\n+$/, "");
  const tunnel = await openDbTunnel(name, kind, {
    owner: owner.key,
    until: owner.until,
    alive: owner.alive,
    onClose: (t) => fs.rm(marker(t.port), { force: true }),
  });
  try {
    await fs.mkdir(adminerTokenDir(), { recursive: true, mode: 0o700 });
    await fs.mkdir(tunnelMarkerDir(), { recursive: true, mode: 0o755 });
    await pruneMarkers();
    await fs.writeFile(marker(tunnel.port), `${tunnel.id}\n`, { mode: 0o644 });
    await chownToAdminer(adminerTokenDir(), tunnelMarkerDir(), marker(tunnel.port));
    const login: AdminerLogin = { driver: DRIVER[kind], server: `127.0.0.1:${tunnel.port}`, username: "moodle", db: "moodle" };
    return await writeAdminerLogin(name, login, password, tunnel.id);
  } catch (e) {
    await closeTunnel(tunnel.port);
    throw e;
  }
}
