import type { CreateRequest } from "../../instances/spec";
import type { Writable } from "node:stream";
import type { OpEvent } from "../../lib/operations";
import type { InstanceView } from "../../instances/query";
import type { ReconcileReport } from "../../services/reconcile";
import type { ApplyOptions, ApplyResult } from "../../instances/blueprint";
import type { BuildUsage, DownloadRequest } from "../../instances/builds";
import type { BuildInfo } from "../../lib/moodle/library";
import type { UpgradeInput } from "../../instances/upgrade/plan";
import type { ConfigFile } from "../../instances/configfiles";
import type { MailMessage, MailSummary } from "../../lib/mail/store";

/** What `config set` answers: the checker's verdict and the services to restart. */
export interface ConfigSaved {
  saved: boolean;
  validated: boolean;
  validator: string | null;
  output: string;
  restartSuggested: string[];
}

/** GET /moodle's answer: the builds with their users, and sources-folder entries that are not builds. */
export interface MoodleLibrary {
  builds: BuildUsage[];
  skipped: { entry: string; error: string }[];
}

/** What the CLI needs from a host: satisfied locally (lib calls) or remotely (REST API). */
export interface Backend {
  create(input: CreateRequest, onEvent: (ev: OpEvent) => void, blueprintFile?: string, blueprintOpts?: ApplyOptions): Promise<InstanceView>;
  blueprintApply(name: string, file: string, opts: ApplyOptions, onEvent: (ev: OpEvent) => void): Promise<ApplyResult>;
  list(): Promise<InstanceView[]>;
  /** Instance names only (completion calls this on every TAB, so locally it reads the registry, not the engine). */
  names(): Promise<string[]>;
  info(name: string, showPassword: boolean): Promise<unknown>;
  /** "Open as admin": a one-time login URL (instances/login.ts). */
  loginLink(name: string): Promise<{ url: string; expiresAt: string }>;
  action(name: string, action: "start" | "stop" | "restart", onEvent: (ev: OpEvent) => void): Promise<InstanceView>;
  remove(name: string, onEvent: (ev: OpEvent) => void): Promise<void>;
  logs(name: string, service: string, opts: { tail?: number; follow?: boolean }, out: Writable): Promise<void>;
  exec(name: string, service: string, argv: string[]): Promise<number>;
  imagesBuild(specs: string[], onLine: (l: string) => void): Promise<void>;
  imagesList(): Promise<unknown[]>;
  imagesSave(dir: string, onLine: (l: string) => void): Promise<void>;
  reconcile(): Promise<ReconcileReport>;
  /** The Moodle build library (lib/moodle/library.ts); additions are operations on the "_moodle" channel. */
  moodleList(): Promise<MoodleLibrary>;
  moodleAdd(file: string, onEvent: (ev: OpEvent) => void): Promise<BuildInfo>;
  moodleDownload(req: DownloadRequest, onEvent: (ev: OpEvent) => void): Promise<BuildInfo>;
  moodleRemove(id: string): Promise<void>;
  /** Editable config files (instances/configfiles.ts); set validates with the service's checker first. */
  configList(name: string): Promise<ConfigFile[]>;
  configGet(name: string, dir: string, file: string): Promise<ConfigFile & { content: string }>;
  configSet(name: string, dir: string, file: string, content: string): Promise<ConfigSaved>;
  /** Caught mail (lib/mail/store.ts). */
  mailList(name: string): Promise<{ total: number; messages: MailSummary[] }>;
  mailShow(name: string, id: string): Promise<MailMessage>;
  mailClear(name: string): Promise<number>;
  /** Site copies. Optional: a backend that lacks one says so instead of pretending. */
  clone?(from: string, to: string, onEvent: (ev: OpEvent) => void): Promise<InstanceView>;
  exportTo?(name: string, file: string, onEvent: (ev: OpEvent) => void): Promise<{ file: string; bytes: number }>;
  importFrom?(file: string, name: string, onEvent: (ev: OpEvent) => void): Promise<InstanceView>;
  switchPhp?(name: string, version: string, onEvent: (ev: OpEvent) => void): Promise<InstanceView>;
  setProfile?(name: string, profile: "dev" | "prod", onEvent: (ev: OpEvent) => void): Promise<InstanceView>;
  snapshot?(name: string, action: "create" | "list" | "restore", arg: string | undefined, onEvent: (ev: OpEvent) => void): Promise<unknown>;
  /** Upgrade to a newer library build, in place or on a clone (then the clone's view). */
  upgrade?(name: string, req: UpgradeInput, onEvent: (ev: OpEvent) => void): Promise<InstanceView>;
}

export async function backendFor(opts: { url?: string; token?: string }): Promise<Backend> {
  const url = opts.url ?? process.env.MOODLE_DIND_URL;
  if (url) {
    const { RemoteBackend } = await import("./remote");
    return new RemoteBackend(url, opts.token ?? process.env.MOODLE_DIND_TOKEN ?? "");
  }
  const { LocalBackend } = await import("./local");
  return new LocalBackend();
}
