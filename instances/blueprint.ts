import fs from "node:fs/promises";
import fss from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { AppError, ValidationError, isAppError } from "../lib/errors";
import { execIn } from "../lib/exec";
import { readJson, writeFileAtomic } from "../lib/lock";
import { runOperation, type Operation } from "../lib/operations";
import {
  blueprintHash,
  fetchCapped,
  installPluginZip,
  loadBundle,
  parseBlueprint,
  parsePhpStepOutput,
  phpStepInput,
  pluginInstallDir,
  redactStep,
  resolvePolicy,
  runBlueprint,
  ResourceResolver,
  PHP_STEP_SCRIPT_NAME,
  type Bundle,
  type MarkerStore,
  type ParsedBlueprint,
  type ParsedStep,
  type ProgressEvent,
  type ResourceDescriptor,
  type RunResult,
  type StepExecutor,
} from "../lib/blueprint";
import { SECRET_FIELD_RE, parseSitePath } from "../lib/blueprint/steps";
import { copySiteFile, deleteSiteFile, makeSiteDir, moveSiteFile, removeSiteDir, unzipToSite, writeSiteFile, type SiteRoots } from "../lib/blueprint/files";

/** Steps that work on files; they run host-side, not in the PHP step script. */
const FILE_STEPS = new Set(["mkdir", "rmdir", "deleteFile", "writeFile", "writeFiles", "copyFile", "moveFile", "unzip"]);
import { validateName } from "../lib/names";
import { containerName } from "./stack";
import { dataDir, instanceDir, readRecord, type InstanceRecord } from "./store";
import { wakeCron } from "./cron";
import { appRoot } from "./source";
import { siteRequest, type SiteRequest } from "./blueprint-request";
import { BlueprintWorkDir, chownTreeWww, openPluginDir, sameTree, WORK_DIR } from "./blueprint-work";

/**
 * Blueprints applied to an instance. The library (lib/blueprint) parses, checks and orders the steps;
 * this module is the executor: every step becomes one run of the PHP step script inside the instance's
 * app container, as www-data, with the step JSON on STDIN (never argv, never a shell string). Plugin
 * ZIPs are unpacked host-side into the code folder (safe extraction), then Moodle's own upgrade CLI
 * installs them. The whole run is the instance's one operation, so it is locked, streamed and logged.
 */

export interface BlueprintInput {
  /** blueprint.json text. */
  json?: string;
  /** A bundle folder, a bundle ZIP, or a lone blueprint.json on this host. */
  bundlePath?: string;
  /** An http(s) URL of a blueprint.json or a bundle ZIP (needs allowUrls). */
  url?: string;
}

export interface ApplyOptions {
  onError?: "abort" | "warn";
  force?: boolean;
  allowUnsafe?: boolean;
  allowUrls?: boolean;
}

export interface ApplyResult {
  name: string;
  status: RunResult["status"];
  hash: string;
  changed: boolean;
  steps: RunResult["steps"];
  /** Fields read but not applied (unknown step fields and the like); see ParsedBlueprint.warnings. */
  warnings: string[];
}

/** A blueprint read and validated, ready to run (possibly later, e.g. after create). */
export interface PreparedBlueprint {
  parsed: ParsedBlueprint;
  resolver: ResourceResolver;
  close(): Promise<void>;
}

/** Code and data roots as the app container sees them (instances/stack.ts binds). */
const CODE_IN_CONTAINER = "/var/www/moodle";
const DATA_IN_CONTAINER = "/var/www/moodledata";
/** Largest bundle ZIP the API takes and the largest blueprint fetched from a URL. */
export const MAX_BUNDLE_UPLOAD_BYTES = 64 * 1024 * 1024;
const STEP_TIMEOUT_MS = 15 * 60_000;
const UPGRADE_TIMEOUT_MS = 30 * 60_000;

const markerFile = (name: string) => path.join(instanceDir(name), "blueprint-applied.json");
/** Components a blueprint installed: only those may be replaced by a later blueprint (never core plugins). */
const lastRunFile = (name: string) => path.join(instanceDir(name), "blueprint-last.json");
const pluginsFile = (name: string) => path.join(instanceDir(name), "blueprint-plugins.json");

/** The host operator's opt-in for URL blueprints and URL resources on the dashboard/API. */
export function urlsAllowedOnHost(): boolean {
  return /^(1|true|yes)$/i.test(process.env.MDIND_BLUEPRINT_ALLOW_URLS ?? "");
}

/**
 * The PHP step script to copy into the container. MDIND_BLUEPRINT_STEP_SCRIPT exists for the CI
 * fixture only (a fake Moodle cannot run Moodle APIs): it swaps in a stub that records the steps.
 */
export function stepScriptPath(): string {
  const p = process.env.MDIND_BLUEPRINT_STEP_SCRIPT || path.join(appRoot(), "lib", "blueprint", "php", PHP_STEP_SCRIPT_NAME);
  if (!fss.existsSync(p)) throw new AppError("internal", `blueprint step script not found at ${p}`);
  return p;
}

interface MarkerFile {
  /** The most recently applied blueprint. */
  hash: string;
  appliedAt: string;
  /** Every blueprint applied completely, so re-applying any of them (not only the last) is a no-op. */
  history?: { hash: string; appliedAt: string }[];
}
const MARKER_HISTORY = 100;

/** The applied marker of one instance, for the blueprint whose hash is `hash`. */
export function markerStore(name: string, hash: string): MarkerStore {
  const read = () => readJson<MarkerFile | null>(markerFile(name), null);
  return {
    get: async () => {
      const m = await read();
      return m && (m.hash === hash || m.history?.some((h) => h.hash === hash)) ? hash : null;
    },
    set: async (h) => {
      const appliedAt = new Date().toISOString();
      const history = [...((await read())?.history ?? []).filter((x) => x.hash !== h), { hash: h, appliedAt }].slice(-MARKER_HISTORY);
      const doc: MarkerFile = { hash: h, appliedAt, history };
      await writeFileAtomic(markerFile(name), `${JSON.stringify(doc, null, 2)}\n`);
    },
  };
}

export interface BlueprintState {
  applied: { hash: string; appliedAt: string; history?: { hash: string; appliedAt: string }[] } | null;
  /** The last run's outcome (already redacted: step reports carry no arguments). */
  last: (ApplyResult & { finishedAt: string; error?: string }) | null;
}

/** What the instance page and a remote CLI show: the applied marker and the last run. */
export async function blueprintState(name: string): Promise<BlueprintState> {
  validateName(name);
  await readRecord(name);
  return { applied: await readJson(markerFile(name), null), last: await readJson(lastRunFile(name), null) };
}

/**
 * Read and validate a blueprint from JSON text, a bundle on this host, or a URL. Everything the
 * policy refuses (unsafe steps, URL resources, vfs, escapes) fails here, before any operation starts.
 */
export async function prepareBlueprint(input: BlueprintInput, opts: ApplyOptions = {}): Promise<PreparedBlueprint> {
  const given = (["json", "bundlePath", "url"] as const).filter((k) => input[k] !== undefined);
  if (given.length !== 1) throw new ValidationError("give exactly one of: blueprint JSON, a bundle path, or a URL", "blueprint");
  const policy = resolvePolicy({ allowUnsafe: opts.allowUnsafe === true, allowUrls: opts.allowUrls === true });
  if (input.json !== undefined) {
    const parsed = parseBlueprint(input.json, { policy, source: "blueprint.json" });
    return { parsed, resolver: new ResourceResolver({ policy }), close: async () => undefined };
  }
  if (input.bundlePath !== undefined) return fromBundle(await loadBundle(input.bundlePath, { policy }));

  if (!policy.allowUrls) throw new ValidationError("blueprints from a URL are disabled on this host (URL blueprints need allowUrls)", "url");
  let u: URL;
  try {
    u = new URL(String(input.url));
  } catch {
    throw new ValidationError("url: not a valid URL", "url");
  }
  if (u.protocol !== "http:" && u.protocol !== "https:") throw new ValidationError("url: only http(s) URLs are allowed", "url");
  if (u.username || u.password) throw new ValidationError("url: URLs with embedded credentials are not allowed", "url");
  const bytes = await fetchCapped(u.href, { maxBytes: MAX_BUNDLE_UPLOAD_BYTES, timeoutMs: policy.fetchTimeoutMs, where: "url" });
  if (bytes[0] === 0x50 && bytes[1] === 0x4b) return prepareZip(bytes, opts);
  return prepareBlueprint({ json: bytes.toString("utf8") }, opts);
}

/** A bundle ZIP received as bytes (API upload, URL): kept in a private temp file for the run. */
export async function prepareZip(bytes: Buffer, opts: ApplyOptions = {}): Promise<PreparedBlueprint> {
  if (bytes.length > MAX_BUNDLE_UPLOAD_BYTES) throw new ValidationError(`bundle is larger than the ${MAX_BUNDLE_UPLOAD_BYTES}-byte limit`, "blueprint");
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-bundle-"));
  const file = path.join(dir, "bundle.zip");
  try {
    await fs.writeFile(file, bytes, { mode: 0o600 });
    const policy = resolvePolicy({ allowUnsafe: opts.allowUnsafe === true, allowUrls: opts.allowUrls === true });
    const prepared = fromBundle(await loadBundle(file, { policy }));
    return {
      ...prepared,
      close: async () => {
        await prepared.close();
        await fs.rm(dir, { recursive: true, force: true });
      },
    };
  } catch (e) {
    await fs.rm(dir, { recursive: true, force: true });
    throw e;
  }
}

function fromBundle(b: Bundle): PreparedBlueprint {
  return { parsed: b.parsed, resolver: b.resolver(), close: once(() => b.close()) };
}

function once(fn: () => Promise<void>): () => Promise<void> {
  let p: Promise<void> | null = null;
  return () => (p ??= fn());
}

/** Apply a blueprint to an existing instance as its "blueprint" operation. */
export async function applyBlueprint(
  name: string,
  input: BlueprintInput | PreparedBlueprint,
  opts: ApplyOptions = {},
  onProgress?: (ev: ProgressEvent) => void,
): Promise<ApplyResult> {
  validateName(name);
  let prepared = "parsed" in input ? input : null;
  try {
    const rec = await readRecord(name);
    if (rec.state !== "ready") throw new AppError("conflict", `instance '${name}' is ${rec.state}; blueprints apply to ready instances`);
    prepared ??= await prepareBlueprint(input as BlueprintInput, opts);
    const ready = prepared;
    return await runOperation(name, "blueprint", (op) => runInOperation(op, rec, ready, opts, onProgress));
  } finally {
    await prepared?.close();
  }
}

/**
 * For createInstance's afterCreate hook: the blueprint runs inside the create operation, after the
 * site is installed and ready, so one operation id shows the whole thing. A failing blueprint fails
 * the operation but does not roll the new instance back.
 */
export function applyBlueprintAfterCreate(
  prepared: PreparedBlueprint,
  opts: ApplyOptions = {},
  onProgress?: (ev: ProgressEvent) => void,
): (op: Operation, rec: InstanceRecord) => Promise<void> {
  return async (op, rec) => {
    try {
      await runInOperation(op, rec, prepared, opts, onProgress);
    } finally {
      await prepared.close();
    }
  };
}

async function runInOperation(
  op: Operation,
  rec: InstanceRecord,
  prepared: PreparedBlueprint,
  opts: ApplyOptions,
  onProgress?: (ev: ProgressEvent) => void,
): Promise<ApplyResult> {
  const { parsed } = prepared;
  const total = parsed.steps.length;
  const label = (index: number, stepName: string) => `blueprint ${index + 1}/${total} ${stepName}`;
  op.log(`blueprint: ${total} step(s), on error ${opts.onError ?? "abort"}${opts.force ? ", forced" : ""}`);
  for (const w of parsed.warnings) op.log(`warning: ${w}`);
  const executor = new ContainerExecutor(rec, op.id);
  const scrub = scrubber(parsed);
  try {
    const result = await runBlueprint(
      parsed,
      {
        runStep: (step, ctx) =>
          op.step(label(step.index, step.name), async () => {
            op.log(JSON.stringify(redactStep(step)));
            try {
              const out = await executor.runStep(step, ctx);
              if (out.detail) op.log(`${out.changed ? "changed" : "unchanged"}: ${scrub(out.detail)}`);
              return out;
            } catch (e) {
              // op.step logs the message before the runner sees it, so secrets are taken out here.
              throw rewrap(e, scrub);
            }
          }),
      },
      {
        onError: opts.onError,
        force: opts.force,
        marker: markerStore(rec.name, blueprintHash(parsed)),
        resources: prepared.resolver,
        onProgress: (ev) => {
          // No-op steps never reach the executor; they still appear in the operation log.
          if (ev.status === "skipped") op.log(`skipped: ${ev.detail ?? ""}`, label(ev.index, ev.name));
          onProgress?.(ev);
        },
      },
    );
    // Steps may have queued adhoc tasks (course restores, emails): cron picks them up within a minute.
    await wakeCron(rec.name);
    const failed = result.steps.filter((s) => s.status === "failed").length;
    const summary: ApplyResult = { name: rec.name, status: result.status, hash: result.hash, changed: result.changed, steps: result.steps, warnings: parsed.warnings };
    await writeFileAtomic(
      lastRunFile(rec.name),
      `${JSON.stringify({ ...summary, finishedAt: new Date().toISOString(), error: result.error ? scrub(result.error.message) : undefined }, null, 2)}\n`,
    );
    if (result.status === "unchanged") op.log(`blueprint ${result.hash.slice(0, 12)} is already applied; nothing to do (force re-runs it)`);
    else if (result.status === "partial") op.log(`blueprint finished with ${failed} failed step(s) (on error warn); it is not marked as applied`);
    else if (result.status === "applied") op.log(`blueprint ${result.hash.slice(0, 12)} applied${result.changed ? "" : " (nothing changed)"}`);
    if (result.status === "failed") throw result.error ?? new AppError("internal", "blueprint failed");
    return summary;
  } finally {
    await executor.cleanup();
  }
}

/**
 * Runs steps in one instance. Resources are materialised host-side into a per-run folder in moodledata
 * (visible in the container at /var/www/moodledata/...), removed when the run ends.
 */
class ContainerExecutor implements StepExecutor {
  private readonly app: string;
  private readonly id: string;
  private readonly containerWork: string;
  private work: Promise<BlueprintWorkDir> | null = null;
  private counter = 0;

  constructor(private readonly rec: InstanceRecord, runId: string) {
    this.app = containerName(rec.name, "app");
    this.id = `${runId.replace(/[^a-z0-9-]/g, "")}-${randomBytes(4).toString("hex")}`;
    this.containerWork = `${DATA_IN_CONTAINER}/${WORK_DIR}/${this.id}`;
  }

  /** The run folder in moodledata, made on first use (blueprint-work.ts: never through a link). */
  private prepare(): Promise<BlueprintWorkDir> {
    this.work ??= (async () => {
      const work = await BlueprintWorkDir.open(dataDir(this.rec.name, "moodledata"), this.id);
      try {
        await work.writeFile(PHP_STEP_SCRIPT_NAME, await fs.readFile(stepScriptPath()));
      } catch (e) {
        await work.close();
        throw e;
      }
      return work;
    })();
    return this.work;
  }

  async cleanup(): Promise<void> {
    const work = await this.work?.catch(() => null);
    await work?.close().catch(() => undefined);
  }

  /** Write resource bytes where the container can read them; returns the container path. */
  private async place(bytes: Buffer, stem: string): Promise<{ host: string; container: string }> {
    const file = `${++this.counter}-${stem}`;
    const host = await (await this.prepare()).writeFile(file, bytes, { www: true });
    return { host, container: `${this.containerWork}/${file}` };
  }

  async runStep(step: ParsedStep, ctx: { resources?: ResourceResolver }): Promise<{ changed: boolean; detail?: string }> {
    await this.prepare();
    const resources = ctx.resources ?? new ResourceResolver();
    if (step.name === "installMoodlePlugin" || step.name === "installTheme") return this.installPlugin(step, resources);
    if (FILE_STEPS.has(step.name)) return this.fileStep(step, resources);
    if (step.name === "request") return siteRequest(this.rec, step.args as unknown as SiteRequest);
    const stdin = await phpStepInput(step, async (desc: ResourceDescriptor, field: string) => {
      const bytes = await resources.resolve(desc, `step ${step.index + 1} (${step.name}) '${field}'`);
      return { localPath: (await this.place(bytes, field)).container };
    });
    return this.php(stdin, step.name);
  }

  /** File steps run host-side through lib/blueprint/files.ts (never through a link the site planted). */
  private async fileStep(step: ParsedStep, resources: ResourceResolver): Promise<{ changed: boolean; detail?: string }> {
    const roots: SiteRoots = { moodledata: dataDir(this.rec.name, "moodledata"), code: dataDir(this.rec.name, "code"), owner: { uid: 33, gid: 33 } };
    const a = step.args as Record<string, unknown>;
    const where = `step ${step.index + 1} (${step.name})`;
    const p = (f: unknown) => parseSitePath(String(f));
    const bytes = (d: unknown, f: string) => resources.resolve(d as ResourceDescriptor, `${where} '${f}'`);
    switch (step.name) {
      case "mkdir":
        return makeSiteDir(roots, p(a.path));
      case "rmdir":
        return removeSiteDir(roots, p(a.path), a.recursive === true);
      case "deleteFile":
        return deleteSiteFile(roots, p(a.path));
      case "writeFile":
        return writeSiteFile(roots, p(a.path), await bytes(a.data, "data"));
      case "writeFiles": {
        const files = a.files as { path: string; data: unknown }[];
        let changed = 0;
        for (const [i, f] of files.entries()) if ((await writeSiteFile(roots, p(f.path), await bytes(f.data, `files[${i}].data`))).changed) changed++;
        return { changed: changed > 0, detail: `${changed} of ${files.length} files written` };
      }
      case "copyFile":
        return copySiteFile(roots, p(a.from), p(a.to));
      case "moveFile":
        return moveSiteFile(roots, p(a.from), p(a.to));
      default: {
        const zip = await this.place(await bytes(a.data, "data"), "unzip.zip");
        return unzipToSite(roots, zip.host, p(a.destination));
      }
    }
  }

  private async php(stdin: string, stepName: string): Promise<{ changed: boolean; detail?: string }> {
    const r = await execIn(this.app, ["php", `${this.containerWork}/${PHP_STEP_SCRIPT_NAME}`, CODE_IN_CONTAINER], {
      user: "www-data",
      workdir: CODE_IN_CONTAINER,
      stdin,
      check: false,
      what: `blueprint step ${stepName}`,
      timeoutMs: STEP_TIMEOUT_MS,
    });
    return parsePhpStepOutput(r.stdout, r.exitCode);
  }

  /**
   * Plugin ZIP → code folder (host-side, safe extraction, public/ layout on 5.1) → upgrade.php → the
   * PHP check that the component is installed. Idempotent: an identical plugin already in place is
   * left alone; a different one replaces it only when an earlier blueprint installed it.
   */
  private async installPlugin(step: ParsedStep, resources: ResourceResolver): Promise<{ changed: boolean; detail?: string }> {
    const args = step.args as { data: ResourceDescriptor; pluginType?: string; pluginName?: string; component?: string };
    const where = `step ${step.index + 1} (${step.name})`;
    const bytes = await resources.resolve(args.data, `${where} 'data'`);
    // Keep the archive's own name where there is one, so messages name the file the author knows.
    const stem = "bundled" in args.data ? path.posix.basename(args.data.bundled).replace(/[^A-Za-z0-9._-]/g, "_") : "plugin.zip";
    const zip = await this.place(bytes, stem);
    let type = step.name === "installTheme" ? "theme" : args.pluginType;
    let pname = args.pluginName;
    if (args.component) [type, pname] = [args.component.split("_")[0], args.component.split("_").slice(1).join("_")];
    const layout = this.rec.source.publicDir ? "public" : "legacy";
    const codeRoot = dataDir(this.rec.name, "code");

    // Unpack into a scratch tree first to learn the component and compare with what is installed.
    const work = await this.prepare();
    const scratchName = `scratch-${this.counter}`;
    const scratch = await work.mkdir(scratchName);
    const trial = await installPluginZip(zip.host, scratch, { layout, type, name: pname });
    const installed = await openPluginDir(codeRoot, pluginInstallDir(trial.type, trial.name, layout));
    const exists = installed !== "missing";
    let changedFiles = false;
    try {
      if (typeof installed === "string" || !(await sameTree(path.join(scratch, trial.dir), installed.path))) {
        const ours = await readJson<string[]>(pluginsFile(this.rec.name), []);
        if (exists && !ours.includes(trial.component)) {
          throw new ValidationError(`${where}: ${trial.dir} already exists and was not installed by a blueprint; refusing to replace it`);
        }
        await installPluginZip(zip.host, codeRoot, { layout, type: trial.type, name: trial.name, replace: exists });
        const target = await openPluginDir(codeRoot, trial.dir);
        if (typeof target === "string") throw new ValidationError(`${where}: ${trial.dir} changed while it was being installed`);
        await chownTreeWww(target).finally(() => target.close());
        if (!ours.includes(trial.component)) await writeFileAtomic(pluginsFile(this.rec.name), `${JSON.stringify([...ours, trial.component])}\n`);
        changedFiles = true;
      }
    } finally {
      if (typeof installed !== "string") await installed.close();
      await work.remove(scratchName);
    }

    const check = JSON.stringify({ step: step.name, component: trial.component });
    if (!changedFiles) {
      const ok = await this.php(check, step.name).catch((e: unknown) => (isAppError(e) && e.kind === "command" ? null : Promise.reject(e)));
      if (ok) return { changed: false, detail: `${trial.component} already installed in ${trial.dir}` };
    }
    await this.upgrade(step.name);
    const verified = await this.php(check, step.name);
    return { changed: true, detail: `${trial.component} installed in ${trial.dir}: ${verified.detail ?? "ok"}` };
  }

  private async upgrade(stepName: string): Promise<void> {
    const r = await execIn(this.app, ["php", "admin/cli/upgrade.php", "--non-interactive"], {
      user: "www-data",
      workdir: CODE_IN_CONTAINER,
      check: false,
      what: "admin/cli/upgrade.php",
      timeoutMs: UPGRADE_TIMEOUT_MS,
    });
    if (r.exitCode !== 0) {
      const tail = (r.stderr || r.stdout).trim().split("\n").slice(-5).join("\n");
      throw new AppError("command", `${stepName}: admin/cli/upgrade.php exited with ${r.exitCode}${tail ? `: ${tail}` : ""}`);
    }
  }
}

/** Replaces every secret value of the blueprint (passwords, tokens, at any depth) in a message. */
function scrubber(parsed: ParsedBlueprint): (text: string) => string {
  const secrets = new Set<string>();
  const walk = (v: unknown, key: string | null) => {
    if (key !== null && SECRET_FIELD_RE.test(key) && typeof v === "string" && v.length >= 3) secrets.add(v);
    if (Array.isArray(v)) v.forEach((item) => walk(item, null));
    else if (typeof v === "object" && v !== null) for (const [k, item] of Object.entries(v)) walk(item, k);
  };
  parsed.steps.forEach((s) => walk(s.args, null));
  const list = [...secrets].sort((a, b) => b.length - a.length);
  return (text) => list.reduce((t, s) => t.split(s).join("********"), text);
}

function rewrap(e: unknown, scrub: (t: string) => string): AppError {
  if (isAppError(e)) return new AppError(e.kind, scrub(e.message), { field: e.field, step: e.step });
  return new AppError("internal", scrub(e instanceof Error ? e.message : String(e)));
}
