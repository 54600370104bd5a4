import fs from "node:fs/promises";
import path from "node:path";
import type Docker from "dockerode";
import { createManagedContainer, destroyContainer, docker, listManagedContainers, startContainer, stopContainer } from "../lib/docker";
import { settings } from "../lib/config";
import { AppError, engineError } from "../lib/errors";
import { getAllocation, release, setAllocationState } from "../lib/allocation";
import { runOperation } from "../lib/operations";
import { ensureNetwork, gatewayFor, removeNetwork } from "../networks/subnets";
import type { InstanceSpec } from "./spec";
import { validateName } from "../lib/names";
import { autoResetsPersistentLinks, type RenderContext } from "./render";
import { containerName, SERVICES, type Service } from "./stack";
import { instanceDir, readRecord, removeFolder, updateRecord, type InstanceRecord } from "./store";
import { waitReady } from "./ready";
import { deleteMailbox } from "../lib/mail/store";

/**
 * Instance lifecycle: start, stop, restart, remove (create is instances/create.ts). Every mutation runs as the instance's
 * one operation (lib/operations), so it is locked, streamed and logged.
 */
export const publicHost = () => process.env.MDIND_PUBLIC_HOST ?? "127.0.0.1";
/** Where instances reach the mail catcher: the host side of their own bridge. */
export const smtpHostFor = (n: number) => `${process.env.MDIND_SMTP_HOST ?? gatewayFor(n)}:${process.env.MDIND_SMTP_PORT ?? "1025"}`;

export function renderContext(spec: InstanceSpec, n: number, port: number, publicDir: boolean, dbPassword: string): RenderContext {
  // MDIND_SMTP_PASS: set only by a cluster's control plane when a node makes an instance (lib/mail/auth.ts).
  return { spec, n, port, publicHost: publicHost(), publicDir, dbPassword, smtpHost: smtpHostFor(n), smtpPass: process.env.MDIND_SMTP_PASS || null };
}

/**
 * Await every branch, then throw the first failure: a rollback must not start while a sibling
 * branch is still creating containers or copying files.
 */
export async function settleAll(branches: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(branches);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

export const createContainer = (opts: Docker.ContainerCreateOptions): Promise<void> => createManagedContainer(opts);

export async function startServices(name: string, services: readonly Service[]): Promise<void> {
  for (const s of services) {
    try {
      await startContainer(containerName(name, s));
    } catch (e) {
      const msg = (e as { json?: { message?: string } }).json?.message ?? "";
      if (/port is already allocated/i.test(msg) || (s === "web" && /address already in use/i.test(msg))) {
        throw new AppError("conflict", `starting ${containerName(name, s)}: its host port is taken by another program (${msg})`);
      }
      if (/address already in use/i.test(msg)) {
        throw new AppError("conflict", `starting ${containerName(name, s)}: its network address is taken on this engine (${msg})`);
      }
      throw engineError(`starting ${containerName(name, s)}`, e);
    }
  }
}

async function stopServices(name: string, services: readonly Service[]): Promise<void> {
  for (const s of services) await stopContainer(containerName(name, s), 20);
}

/** Remove everything an instance owns in the engine and on disk, then free N and the port. */
export async function destroy(name: string, n: number): Promise<void> {
  for (const c of await listManagedContainers({ instance: name })) await destroyContainer(c.Id);
  if (n > settings().preallocatedNetworks) await removeNetwork(n);
  await removeFolder(name);
  // A later instance with the same name must not inherit this one's mail.
  await deleteMailbox(name).catch(() => undefined);
  await release(name);
}

async function isRunning(name: string, s: Service): Promise<boolean> {
  const info = await docker().getContainer(containerName(name, s)).inspect().catch(() => null);
  return Boolean(info?.State.Running);
}

/**
 * php-fpm workers keep their PostgreSQL link across requests (dbpersist), and a database restart
 * leaves every kept link dead. A php.ini with `pgsql.auto_reset_persistent = On` (rendered so since
 * issue #18) has each worker check its link and reconnect: nothing to do. A php.ini without it (an
 * instance made before, or edited) would fail each worker's next request with HTTP 500, so when the
 * database came back under a running app, php-fpm is reloaded (USR2, forwarded by tini): new
 * workers, new links. The reload costs a cold OPcache, which is why it is only the fallback.
 */
async function renewDbLinks(rec: InstanceRecord, log: (l: string) => void): Promise<void> {
  if (rec.spec.db.engine !== "postgres") return;
  const ini = await fs.readFile(path.join(instanceDir(rec.name), "config", `php-${rec.spec.php}`, "php.ini"), "utf8").catch(() => "");
  if (autoResetsPersistentLinks(ini) || !(await isRunning(rec.name, "app"))) return;
  try {
    await docker().getContainer(containerName(rec.name, "app")).kill({ signal: "SIGUSR2" });
  } catch (e) {
    throw engineError(`reloading php-fpm in ${containerName(rec.name, "app")}`, e);
  }
  log("php-fpm reloaded: its php.ini does not turn on pgsql.auto_reset_persistent, so its workers' database links died with the restart");
  await waitReady(rec.name, rec.spec, rec.port, ["app"], log);
}

export async function startInstance(name: string): Promise<InstanceRecord> {
  validateName(name);
  const rec = await readRecord(name);
  return runOperation(name, "start", async (op) => {
    await op.step("network", () => ensureNetwork(rec.n));
    await op.step("containers", async () => {
      const dbWasRunning = await isRunning(name, "db");
      await startServices(name, ["db"]);
      await waitReady(name, rec.spec, rec.port, ["db"], (l) => op.log(l));
      if (!dbWasRunning) await renewDbLinks(rec, (l) => op.log(l));
      await startServices(name, ["app", "web", "cron"]);
      await waitReady(name, rec.spec, rec.port, ["app", "web"], (l) => op.log(l));
    });
    return rec;
  });
}

export async function stopInstance(name: string): Promise<InstanceRecord> {
  validateName(name);
  const rec = await readRecord(name);
  return runOperation(name, "stop", async (op) => {
    // Front to back: no request reaches a stopping database.
    await op.step("containers", () => stopServices(name, ["web", "cron", "app", "db"]));
    return rec;
  });
}

export async function restartInstance(name: string, services?: Service[]): Promise<InstanceRecord> {
  validateName(name);
  const rec = await readRecord(name);
  const which = services?.length ? services : [...SERVICES];
  return runOperation(name, "restart", async (op) => {
    await op.step("stop", () => stopServices(name, [...which].reverse()));
    await op.step("start", async () => {
      const order = SERVICES.filter((s) => which.includes(s));
      if (order.includes("db")) {
        await startServices(name, ["db"]);
        await waitReady(name, rec.spec, rec.port, ["db"], (l) => op.log(l));
        // A restarted app has new workers anyway.
        if (!order.includes("app")) await renewDbLinks(rec, (l) => op.log(l));
      }
      await startServices(name, order.filter((s) => s !== "db"));
      await waitReady(name, rec.spec, rec.port, order.filter((s): s is "app" | "web" => s === "app" || s === "web"), (l) => op.log(l));
    });
    return rec;
  });
}

export async function removeInstance(name: string): Promise<{ name: string; removed: true }> {
  validateName(name);
  const alloc = await getAllocation(name);
  const rec = await readRecord(name).catch(() => null);
  if (!alloc && !rec) throw new AppError("not_found", `no instance named '${name}'`);
  return runOperation(name, "remove", async (op) => {
    // First the registry entry names this process as the remover: if it dies mid-way, reconcile sees
    // a "removing" entry with a dead owner and finishes the removal instead of keeping a half-deleted instance.
    if (alloc) await setAllocationState(name, "removing");
    if (rec) await updateRecord(name, { state: "removing" }).catch(() => undefined);
    await op.step("remove", () => destroy(name, alloc?.n ?? rec!.n));
    return { name, removed: true as const };
  });
}
