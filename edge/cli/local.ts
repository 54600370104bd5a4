import type { CreateRequest } from "../../instances/spec";
import type { Writable } from "node:stream";
import { MOODLE_CHANNEL, subscribe, type OpEvent } from "../../lib/operations";
import { ping } from "../../lib/docker";
import { createInstance } from "../../instances/create";
import { removeInstance, restartInstance, startInstance, stopInstance } from "../../instances/lifecycle";
import { instanceInfo, listInstances, type InstanceView } from "../../instances/query";
import { parseService, serviceLogs } from "../../instances/access";
import { execInteractive } from "./exec";
import { listRecords, readSecrets } from "../../instances/store";
import { validateName } from "../../lib/names";
import { reconcile } from "../../services/reconcile";
import { imagesBuild, imagesList, imagesSave } from "../../lib/images/cli";
import type { Backend } from "./backend";
import path from "node:path";
import { ValidationError } from "../../lib/errors";
import { cloneInstance, exportInstance, importInstance } from "../../instances/archive";
import { createSnapshot, listSnapshots, restoreSnapshot } from "../../instances/snapshots";
import { switchPhp } from "../../instances/php";
import { upgradeInstance } from "../../instances/upgrade/upgrade";
import type { UpgradeInput } from "../../instances/upgrade/plan";
import { setProfile } from "../../instances/profile";
import { createLoginLink } from "../../instances/login";
import { applyBlueprint, applyBlueprintAfterCreate, prepareBlueprint, type ApplyOptions, type ApplyResult, type BlueprintInput } from "../../instances/blueprint";
import { listConfigFiles, readConfigFile, writeConfigFile } from "../../instances/configfiles";
import { deleteMailbox, listMail, readMail, validateBox, validateMailId } from "../../lib/mail/store";
import { addBuildOp, downloadBuildOp, listBuildsWithUsage, removeBuildChecked, skippedSources, type DownloadRequest } from "../../instances/builds";

/** FILE on the command line: an http(s) URL (needs --allow-urls) or a blueprint.json, bundle folder or ZIP here. */
function blueprintSource(file: string): BlueprintInput {
  return /^https?:\/\//i.test(file) ? { url: file } : { bundlePath: file };
}

/** The CLI driving the engine in-process. */
export class LocalBackend implements Backend {
  private async watch<T>(name: string, onEvent: (ev: OpEvent) => void, fn: () => Promise<T>): Promise<T> {
    await ping();
    const off = subscribe(name, onEvent);
    try {
      return await fn();
    } finally {
      off();
    }
  }

  private async view(name: string): Promise<InstanceView> {
    return instanceInfo(name);
  }

  async create(input: CreateRequest, onEvent: (ev: OpEvent) => void, blueprintFile?: string, blueprintOpts: ApplyOptions = {}): Promise<InstanceView> {
    const { name } = input;
    // Read and check the blueprint first: a bad one is refused before anything is built.
    const bp = blueprintFile ? await prepareBlueprint(blueprintSource(blueprintFile), blueprintOpts) : null;
    try {
      await this.watch(name, onEvent, () => createInstance(input, { afterCreate: bp ? applyBlueprintAfterCreate(bp, blueprintOpts) : undefined }));
    } finally {
      await bp?.close();
    }
    return this.view(name);
  }

  async blueprintApply(name: string, file: string, opts: ApplyOptions, onEvent: (ev: OpEvent) => void): Promise<ApplyResult> {
    validateName(name);
    const bp = await prepareBlueprint(blueprintSource(file), opts);
    return this.watch(name, onEvent, () => applyBlueprint(name, bp, opts));
  }

  async list() {
    await ping();
    return listInstances();
  }

  async names() {
    return (await listRecords()).map((r) => r.name);
  }

  async info(name: string, showPassword: boolean) {
    await ping();
    const info = await instanceInfo(validateName(name));
    if (!showPassword) return info;
    const s = await readSecrets(name);
    return { ...info, admin: { username: s.adminUser, password: s.adminPassword } };
  }

  async loginLink(name: string) {
    await ping();
    return createLoginLink(validateName(name));
  }

  async action(name: string, action: "start" | "stop" | "restart", onEvent: (ev: OpEvent) => void) {
    validateName(name);
    const fn = { start: startInstance, stop: stopInstance, restart: restartInstance }[action];
    await this.watch(name, onEvent, () => fn(name));
    return this.view(name);
  }

  async remove(name: string, onEvent: (ev: OpEvent) => void) {
    validateName(name);
    await this.watch(name, onEvent, () => removeInstance(name));
  }

  async logs(name: string, service: string, opts: { tail?: number; follow?: boolean }, out: Writable) {
    await ping();
    const stream = await serviceLogs(validateName(name), parseService(service), opts);
    await new Promise<void>((resolve, reject) => {
      stream.on("end", resolve);
      stream.on("error", reject);
      stream.pipe(out, { end: false });
    });
  }

  async exec(name: string, service: string, argv: string[]) {
    await ping();
    return execInteractive(validateName(name), parseService(service), argv);
  }

  imagesBuild(specs: string[], onLine: (l: string) => void) {
    return imagesBuild(specs, onLine).then(() => undefined);
  }

  imagesList() {
    return imagesList() as Promise<unknown[]>;
  }

  imagesSave(dir: string, onLine: (l: string) => void) {
    return imagesSave(dir, onLine).then(() => undefined);
  }

  async clone(from: string, to: string, onEvent: (ev: OpEvent) => void) {
    validateName(to);
    await this.watch(to, onEvent, () => cloneInstance(from, to));
    return this.view(to);
  }

  async exportTo(name: string, file: string, onEvent: (ev: OpEvent) => void) {
    validateName(name);
    return this.watch(name, onEvent, () => exportInstance(name, path.resolve(file)));
  }

  async importFrom(file: string, name: string, onEvent: (ev: OpEvent) => void) {
    validateName(name);
    await this.watch(name, onEvent, () => importInstance(path.resolve(file), name));
    return this.view(name);
  }

  async snapshot(name: string, action: "create" | "list" | "restore", arg: string | undefined, onEvent: (ev: OpEvent) => void) {
    validateName(name);
    if (action === "list") return listSnapshots(name);
    if (action === "create") return this.watch(name, onEvent, () => createSnapshot(name, arg));
    if (!arg) throw new ValidationError("snapshot restore needs a snapshot id", "id");
    await this.watch(name, onEvent, () => restoreSnapshot(name, arg));
    return this.view(name);
  }

  async switchPhp(name: string, version: string, onEvent: (ev: OpEvent) => void) {
    validateName(name);
    await this.watch(name, onEvent, () => switchPhp(name, version));
    return this.view(name);
  }

  /** With a clone, both operations (clone, then upgrade) run on the clone's channel. */
  async upgrade(name: string, req: UpgradeInput, onEvent: (ev: OpEvent) => void) {
    validateName(name);
    const target = req.clone ?? name;
    await this.watch(target, onEvent, () => upgradeInstance(name, req));
    return this.view(target);
  }

  async setProfile(name: string, profile: "dev" | "prod", onEvent: (ev: OpEvent) => void) {
    validateName(name);
    await this.watch(name, onEvent, () => setProfile(name, profile));
    return this.view(name);
  }

  async reconcile() {
    await ping();
    return reconcile();
  }

  /** Library operations need no engine: no ping, just the "_moodle" channel's events. */
  private async library<T>(onEvent: (ev: OpEvent) => void, fn: () => Promise<T>): Promise<T> {
    const off = subscribe(MOODLE_CHANNEL, onEvent);
    try {
      return await fn();
    } finally {
      off();
    }
  }

  async moodleList() {
    return { builds: await listBuildsWithUsage(), skipped: await skippedSources() };
  }

  moodleAdd(file: string, onEvent: (ev: OpEvent) => void) {
    return this.library(onEvent, () => addBuildOp(path.resolve(file)));
  }

  moodleDownload(req: DownloadRequest, onEvent: (ev: OpEvent) => void) {
    return this.library(onEvent, () => downloadBuildOp(req));
  }

  moodleRemove(id: string) {
    return removeBuildChecked(id);
  }

  configList(name: string) {
    return listConfigFiles(validateName(name));
  }

  configGet(name: string, dir: string, file: string) {
    return readConfigFile(validateName(name), dir, file);
  }

  async configSet(name: string, dir: string, file: string, content: string) {
    await ping();
    return writeConfigFile(validateName(name), dir, file, content);
  }

  mailList(name: string) {
    return listMail(validateBox(name), { limit: 500 });
  }

  mailShow(name: string, id: string) {
    return readMail(validateBox(name), validateMailId(id));
  }

  mailClear(name: string) {
    return deleteMailbox(validateBox(name));
  }
}
