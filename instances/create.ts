import fs from "node:fs/promises";
import path from "node:path";
import { allocate, setAllocationState, type Allocation } from "../lib/allocation";
import { ConflictError } from "../lib/errors";
import { ensureImages } from "../lib/images/build";
import { presentImages } from "../lib/images/list";
import { runOperation, type Operation } from "../lib/operations";
import { ensureNetwork } from "../networks/subnets";
import { restoreFrom, setAppPassword } from "./db";
import { installSite } from "./install";
import { createContainer, destroy, publicHost, renderContext, settleAll, startServices } from "./lifecycle";
import { waitReady } from "./ready";
import { moodleConfig, renderAll } from "./render";
import { copyCodeFromInstance, seedData } from "./seed";
import { chownWww, copyCode, isCachedTree, resolveSource, type MoodleSource } from "./source";
import { replenishSpare } from "./spares";
import { resolveSpec, type CreateRequest, type InstanceSpec } from "./spec";
import { clearStackNames } from "./names";
import { containerSpecs, folderNames, SERVICES, stackImages } from "./stack";
import {
  dataDir, instanceDir, makeSkeleton, randomSecret, readRecord, readSecrets, removeFolder, updateRecord, writeRecord,
  writeSecrets, type InstanceRecord,
} from "./store";
import { wakeCron } from "./cron";
import { hasTemplate, makeTemplate, personalize, restoreTemplateData, restoreTemplateDb, templateKey, whileMakingTemplate } from "./templates";

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
    // A clone's files are links to the same build: it counts as a user of it.
    buildId: src.source.buildId,
  };
}

/** What both create paths share once the instance has its allocation, folders and config. */
interface Build {
  op: Operation;
  name: string;
  spec: InstanceSpec;
  source: MoodleSource;
  alloc: Allocation;
  dbPassword: string;
  seed?: Seed;
  tkey: string;
  log: (line: string) => void;
}

/**
 * Create an instance from a parsed request (parseCreateInput, once, at the edge). One operation:
 * source, allocate, images, network, config, then either the template path or the fresh/seeded
 * path; any failure rolls back containers, network, folder and allocation together.
 */
export async function createInstance(
  req: CreateRequest,
  hooks: {
    onOperation?: (o: Operation) => void;
    afterCreate?: (o: Operation, rec: InstanceRecord) => Promise<void>;
    seed?: Seed;
    opName?: string;
  } = {},
): Promise<InstanceRecord> {
  const { name } = req;
  const requested = req.moodle === "auto" ? process.env.MDIND_DEFAULT_MOODLE ?? "auto" : req.moodle;
  const seed = hooks.seed;
  let linkedFrom: string | null = null;
  const created = await runOperation(name, hooks.opName ?? "create", async (op) => {
    hooks.onOperation?.(op);
    const source = await op.step("source", async () => {
      const s = seed ? await seedSource(seed) : await resolveSource(requested);
      op.log(`${s.origin === "fixture" ? "fixture app" : s.origin}: ${s.release} (branch ${s.branch})`);
      return s;
    });
    const spec = resolveSpec(req, source.branch, await presentImages());
    const alloc = await op.step("allocate", () => allocateFor(name, spec, source));
    op.log(`allocated 172.20.${alloc.n}.0/24 and port ${alloc.port}`);
    const tkey = templateKey({ source: { ...source }, spec }, source.version);
    let ready: InstanceRecord;
    try {
      await op.step("images", () => ensureImages(stackImages(spec), (line) => op.log(line)));
      await op.step("network", () => ensureNetwork(alloc.n));
      const { dbPassword } = await readSecrets(name);
      await op.step("config", async () => {
        for (const f of renderAll(renderContext(spec, alloc.n, alloc.port, source.publicDir, dbPassword))) {
          await fs.writeFile(path.join(instanceDir(name), "config", f.dir, f.file), f.content);
        }
      });
      const b: Build = { op, name, spec, source, alloc, dbPassword, seed, tkey, log: (l) => op.log(l) };
      const templated = !seed && spec.install && spec.template;
      if (templated && hasTemplate(tkey)) await fromTemplate(b);
      else if (!templated) await freshOrSeeded(b);
      else {
        // No template yet: install and make it, unless another create already is; then use that.
        const installed = await whileMakingTemplate(tkey, b.log, async () => {
          if (hasTemplate(tkey)) return false;
          await freshOrSeeded(b);
          return true;
        });
        if (!installed) await fromTemplate(b);
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

/** Under the allocation lock: folder, secrets and record are made with N and the port, or none is. */
function allocateFor(name: string, spec: InstanceSpec, source: MoodleSource): Promise<Allocation> {
  return allocate(name, async (a) => {
    await clearStackNames(name);
    await makeSkeleton(name, folderNames(spec));
    await writeSecrets(name, { dbPassword: randomSecret(), adminUser: "admin", adminPassword: randomSecret(12) });
    await writeRecord({
      name, spec, n: a.n, port: a.port, subnet: a.subnet, url: `http://${publicHost()}:${a.port}/`,
      state: "creating", createdAt: new Date().toISOString(), shared: false,
      source: {
        branch: source.branch, release: source.release, version: source.version, publicDir: source.publicDir, origin: source.origin,
        ...(source.buildId ? { buildId: source.buildId } : {}),
        ...(source.vendor !== undefined ? { vendor: source.vendor } : {}),
      },
    });
  }).catch(async (e) => {
    if (!(e instanceof ConflictError && e.field === "name")) await removeFolder(name).catch(() => undefined);
    throw e;
  });
}

/** The instance's code tree (hard links from the build, or a copy of the clone source) and its config.php. */
function installCode(b: Build): Promise<void> {
  return b.op.step("code", async () => {
    const code = dataDir(b.name, "code");
    if (b.seed?.kind === "clone") await copyCodeFromInstance(b.source.dir, code);
    else await copyCode(b.source.dir, code, { link: isCachedTree(b.source.dir) });
    const ctx = renderContext(b.spec, b.alloc.n, b.alloc.port, b.source.publicDir, b.dbPassword);
    await fs.writeFile(path.join(code, "config.php"), moodleConfig(ctx), { mode: 0o640 });
    await chownWww(path.join(code, "config.php"));
  });
}

/**
 * The fast path, in three independent branches: code then the front containers, moodledata, and
 * the database, which is restored, started and given its new password meanwhile.
 */
async function fromTemplate(b: Build): Promise<void> {
  const { op, name, spec, alloc, log } = b;
  const specs = containerSpecs({ spec, n: alloc.n, port: alloc.port });
  const front = ["app", "web", "cron"] as const;
  await settleAll([
    // php-fpm and nginx need the code, not the database: they start while it comes up.
    installCode(b).then(() => op.step("containers", async () => {
      await settleAll(front.map((s) => createContainer(specs[s])));
      await startServices(name, ["app", "web"]);
    })),
    op.step("template", async () => {
      await restoreTemplateData(name, b.tkey);
      await chownWww(dataDir(name, "moodledata"));
    }),
    op.step("database", async () => {
      await restoreTemplateDb(name, b.tkey);
      await createContainer(specs.db);
      await startServices(name, ["db"]);
      await waitReady(name, spec, alloc.port, ["db"], log);
      await setAppPassword(name, spec, b.dbPassword);
    }),
  ]);
  const started = Date.now();
  await updateRecord(name, { state: "installing" });
  await op.step("personalize", () => personalize(name, log, { keepCaches: true }));
  await op.step("ready", () => settleAll([startServices(name, ["cron"]), waitReady(name, spec, alloc.port, ["app", "web"], log)]));
  await updateRecord(name, { install: { at: new Date().toISOString(), durationMs: Date.now() - started, fromTemplate: true } });
}

/** A fresh install (then a template for the next create), or a clone/import seeded from a dump. */
async function freshOrSeeded(b: Build): Promise<void> {
  const { op, name, spec, alloc, seed, log } = b;
  const specs = containerSpecs({ spec, n: alloc.n, port: alloc.port });
  await installCode(b);
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
    await setAppPassword(name, spec, b.dbPassword);
    await op.step("personalize", () => personalize(name, log));
    await updateRecord(name, { install: { at: new Date().toISOString(), durationMs: Date.now() - started, fromTemplate: true } });
  } else if (spec.install) {
    await updateRecord(name, { state: "installing" });
    await op.step("install", () => installSite(name, log));
    if (spec.template && !hasTemplate(b.tkey)) await op.step("template", () => makeTemplate(name, b.tkey, log));
  }
  // Cron last: a run during the install or the site reset would cache a half-made site. A fresh
  // install or a copied site has ad-hoc tasks queued (a template's children do not): the wake mark
  // runs them within a minute instead of at the idle site's first run, up to idle_minutes later.
  if (spec.install || seed) await wakeCron(name);
  await startServices(name, ["cron"]);
}
