import fs from "node:fs/promises";
import path from "node:path";
import type Docker from "dockerode";
import { docker, homeId, LABEL } from "../lib/docker";
import { settings } from "../lib/config";
import { AppError, ConflictError, engineError } from "../lib/errors";
import { allocate, getAllocation, release, setAllocationState } from "../lib/allocation";
import { runOperation, type Operation } from "../lib/operations";
import { ensureNetwork, gatewayFor, removeNetwork } from "../networks/subnets";
import { resolveSpec, type InstanceSpec } from "./spec";
import { validateName } from "../lib/names";
import { renderAll, type RenderContext, moodleConfig } from "./render";
import {
  containerSpecs, containerName, folderNames, SERVICES, stackImages, type Service,
} from "./stack";
import {
  dataDir, instanceDir, makeSkeleton, randomSecret, readRecord, removeFolder, updateRecord, writeRecord,
  writeSecrets, readSecrets, type InstanceRecord,
} from "./store";
import { chownWww, copyCode, isCachedTree, resolveSource } from "./source";
import { replenishSpare } from "./spares";
import { waitReady } from "./ready";
import { installSite } from "./install";
import { ensureImages } from "../lib/images/build";
import { hasTemplate, makeTemplate, personalize, restoreTemplateData, restoreTemplateDb, templateKey } from "./templates";
import { copyCodeFromInstance, seedData } from "./seed";
import { restoreFrom, setAppPassword } from "./db";
import type { MoodleSource } from "./source";
import { deleteMailbox } from "../lib/mail/store";

/**
 * Instance lifecycle: create, start, stop, restart, remove. Every mutation runs as the instance's
 * one operation (lib/operations), so it is locked, streamed and logged.
 */
export const publicHost = () => process.env.MDIND_PUBLIC_HOST ?? "127.0.0.1";
/** Where instances reach the mail catcher: the host side of their own bridge. */
export const smtpHostFor = (n: number) => `${process.env.MDIND_SMTP_HOST ?? gatewayFor(n)}:${process.env.MDIND_SMTP_PORT ?? "1025"}`;

export function renderContext(spec: InstanceSpec, n: number, port: number, publicDir: boolean, dbPassword: string): RenderContext {
  return { spec, n, port, publicHost: publicHost(), publicDir, dbPassword, smtpHost: smtpHostFor(n) };
}

/**
 * Where a new instance's site comes from, when it is not a fresh install: a live instance of this
 * host (clone) or an unpacked export archive (import). Both bring code, moodledata and a DB dump.
 */
export type Seed = { kind: "clone"; from: string } | { kind: "import"; dir: string; source: MoodleSource };

async function seedSource(seed: Seed): Promise<MoodleSource> {
  if (seed.kind === "import") return seed.source;
  const src = await readRecord(seed.from);
  return {
    dir: dataDir(seed.from, "code"),
    branch: src.source.branch,
    release: src.source.release,
    version: src.source.version ?? "0",
    publicDir: src.source.publicDir,
    origin: src.source.origin,
  };
}

export async function createInstance(
  raw: unknown,
  hooks: {
    onOperation?: (o: Operation) => void;
    afterCreate?: (o: Operation, rec: InstanceRecord) => Promise<void>;
    seed?: Seed;
    opName?: string;
  } = {},
): Promise<InstanceRecord> {
  const name = validateName((raw as { name?: unknown })?.name);
  const requested = String((raw as { moodle?: unknown })?.moodle ?? process.env.MDIND_DEFAULT_MOODLE ?? "auto");
  const seed = hooks.seed;
  let linkedFrom: string | null = null;
  const created = await runOperation(name, hooks.opName ?? "create", async (op) => {
    hooks.onOperation?.(op);
    const source = await op.step("source", async () => {
      const s = seed ? await seedSource(seed) : await resolveSource(requested);
      op.log(`${s.origin === "fixture" ? "fixture app" : s.origin}: ${s.release} (branch ${s.branch})`);
      return s;
    });
    const spec = resolveSpec({ ...(raw as object), moodle: requested === "auto" ? "auto" : requested }, source.branch);

    const alloc = await op.step("allocate", () =>
      allocate(name, async (a) => {
        // Under the allocation lock: the folder and the record are made with N and the port,
        // and a failure here releases all three together.
        await makeSkeleton(name, folderNames(spec));
        await writeSecrets(name, { dbPassword: randomSecret(), adminUser: "admin", adminPassword: randomSecret(12) });
        await writeRecord({
          name, spec, n: a.n, port: a.port, subnet: a.subnet, url: `http://${publicHost()}:${a.port}/`,
          state: "creating", createdAt: new Date().toISOString(), shared: false,
          source: { branch: source.branch, release: source.release, version: source.version, publicDir: source.publicDir, origin: source.origin },
        });
      }).catch(async (e) => {
        if (!(e instanceof ConflictError && e.field === "name")) await removeFolder(name).catch(() => undefined);
        throw e;
      }),
    );
    op.log(`allocated 172.20.${alloc.n}.0/24 and port ${alloc.port}`);
    const tkey = templateKey({ source: { ...source }, spec }, source.version);
    const fromTemplate = !seed && spec.install && spec.template && hasTemplate(tkey);
    let ready: InstanceRecord;
    try {
      await op.step("images", () => ensureImages(stackImages(spec), (line) => op.log(line)));
      await op.step("network", () => ensureNetwork(alloc.n));
      const secrets = await readSecrets(name);
      await op.step("config", async () => {
        const ctx = renderContext(spec, alloc.n, alloc.port, source.publicDir, secrets.dbPassword);
        for (const f of renderAll(ctx)) {
          await fs.writeFile(path.join(instanceDir(name), "config", f.dir, f.file), f.content);
        }
      });
      const log = (l: string) => op.log(l);
      const specs = containerSpecs({ spec, n: alloc.n, port: alloc.port });
      const code = () => op.step("code", async () => {
        const code = dataDir(name, "code");
        if (seed?.kind === "clone") await copyCodeFromInstance(source.dir, code);
        else await copyCode(source.dir, code, { link: isCachedTree(source.dir) });
        const ctx = renderContext(spec, alloc.n, alloc.port, source.publicDir, secrets.dbPassword);
        await fs.writeFile(path.join(code, "config.php"), moodleConfig(ctx), { mode: 0o640 });
        await chownWww(path.join(code, "config.php"));
      });
      if (fromTemplate) {
        // The fast path, in three independent branches: code then the front containers, moodledata,
        // and the database, which is restored, started and given its new password meanwhile.
        const front = ["app", "web", "cron"] as const;
        await settleAll([
          // php-fpm and nginx need the code, not the database: they start while it comes up.
          code().then(() => op.step("containers", async () => {
            await settleAll(front.map((s) => createContainer(specs[s])));
            await startServices(name, ["app", "web"]);
          })),
          op.step("template", async () => {
            await restoreTemplateData(name, tkey);
            await chownWww(dataDir(name, "moodledata"));
          }),
          op.step("database", async () => {
            await restoreTemplateDb(name, tkey);
            await createContainer(specs.db);
            await startServices(name, ["db"]);
            await waitReady(name, spec, alloc.port, ["db"], log);
            await setAppPassword(name, spec, secrets.dbPassword);
          }),
        ]);
        const started = Date.now();
        await updateRecord(name, { state: "installing" });
        await op.step("personalize", () => personalize(name, log, { keepCaches: true }));
        await op.step("ready", () => settleAll([startServices(name, ["cron"]), waitReady(name, spec, alloc.port, ["app", "web"], log)]));
        await updateRecord(name, { install: { at: new Date().toISOString(), durationMs: Date.now() - started, fromTemplate: true } });
      } else {
        await code();
        await chownWww(dataDir(name, "moodledata"));
        const dump = seed ? await op.step("seed", () => seedData(name, seed)) : null;
        await op.step("containers", async () => {
          await settleAll(SERVICES.map((s) => createContainer(specs[s])));
          await startServices(name, ["db"]);
          await waitReady(name, spec, alloc.port, ["db"], log);
          // The database is whole before anything can reach it.
          if (dump) await op.step("database", () => restoreFrom(name, spec, dump));
          await startServices(name, ["app", "web"]);
          await waitReady(name, spec, alloc.port, ["app", "web"], log);
        });
        if (dump) await fs.rm(dump, { force: true });
        if (seed) {
          const started = Date.now();
          await updateRecord(name, { state: "installing" });
          await setAppPassword(name, spec, secrets.dbPassword);
          await op.step("personalize", () => personalize(name, log));
          await updateRecord(name, { install: { at: new Date().toISOString(), durationMs: Date.now() - started, fromTemplate: true } });
        } else if (spec.install) {
          await updateRecord(name, { state: "installing" });
          await op.step("install", () => installSite(name, log));
          if (spec.template && !hasTemplate(tkey)) await op.step("template", () => makeTemplate(name, tkey, log));
        }
        // Cron last: a run during the install or the site reset would cache a half-made site.
        await startServices(name, ["cron"]);
      }
      await setAllocationState(name, "ready");
      ready = await updateRecord(name, { state: "ready" });
    } catch (e) {
      await op.step("rollback", () => destroy(name, alloc.n)).catch((re) => op.log(`rollback incomplete: ${(re as Error).message}`));
      throw e;
    }
    // After the rollback scope: a failing blueprint fails the operation but keeps the ready instance.
    await hooks.afterCreate?.(op, ready);
    if (!seed && isCachedTree(source.dir)) linkedFrom = source.dir;
    return ready;
  });
  // After the operation, so it never competes with the create it follows: the next create's code tree.
  if (linkedFrom) replenishSpare(linkedFrom, (e) => process.emitWarning(`preparing a spare code tree failed: ${(e as Error).message}`));
  return created;
}

/**
 * Await every branch, then throw the first failure: a rollback must not start while a sibling
 * branch is still creating containers or copying files.
 */
async function settleAll(branches: Promise<unknown>[]): Promise<void> {
  const results = await Promise.allSettled(branches);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === "rejected");
  if (failed) throw failed.reason;
}

async function createContainer(opts: Docker.ContainerCreateOptions): Promise<void> {
  try {
    await docker().createContainer(opts);
  } catch (e) {
    throw engineError(`creating ${opts.name}`, e);
  }
}

export async function startServices(name: string, services: readonly Service[]): Promise<void> {
  for (const s of services) {
    try {
      await docker().getContainer(containerName(name, s)).start();
    } catch (e) {
      const err = e as { statusCode?: number; json?: { message?: string } };
      if (err.statusCode === 304) continue; // already running
      const msg = err.json?.message ?? "";
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
  for (const s of services) {
    try {
      await docker().getContainer(containerName(name, s)).stop({ t: 20 });
    } catch (e) {
      const code = (e as { statusCode?: number }).statusCode;
      if (code === 304 || code === 404) continue; // already stopped or gone
      throw engineError(`stopping ${containerName(name, s)}`, e);
    }
  }
}

/** Remove everything an instance owns in the engine and on disk, then free N and the port. */
async function destroy(name: string, n: number): Promise<void> {
  const list = await docker()
    .listContainers({ all: true, filters: { label: [`${LABEL.instance}=${name}`, `${LABEL.home}=${homeId()}`] } })
    .catch((e) => {
      throw engineError("listing containers", e);
    });
  for (const c of list) {
    await docker()
      .getContainer(c.Id)
      .remove({ force: true, v: true })
      .catch((e) => {
        if ((e as { statusCode?: number }).statusCode !== 404) throw engineError(`removing ${c.Names?.[0]}`, e);
      });
  }
  if (n > settings().preallocatedNetworks) await removeNetwork(n);
  await removeFolder(name);
  // A later instance with the same name must not inherit this one's mail.
  await deleteMailbox(name).catch(() => undefined);
  await release(name);
}

export async function startInstance(name: string): Promise<InstanceRecord> {
  validateName(name);
  const rec = await readRecord(name);
  return runOperation(name, "start", async (op) => {
    await op.step("network", () => ensureNetwork(rec.n));
    await op.step("containers", async () => {
      await startServices(name, ["db"]);
      await waitReady(name, rec.spec, rec.port, ["db"], (l) => op.log(l));
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
