import { parseCreateInput } from "../../instances/spec";
import { parseUpgradeInput } from "../../instances/upgrade/upgrade";
import { parseArgs } from "node:util";
import readline from "node:readline/promises";
import { isAppError } from "../../lib/errors";
import { backendFor, type Backend } from "./backend";
import { exitCodeFor, UsageError } from "./exit";
import { printProgress } from "./progress";
import { OPTIONS, parseArgsOptions, verb, verbOptions, type OptName } from "./verbs";
import { globalUsage, verbHelp } from "./help";
import { bashCompletion, zshCompletion } from "./completion";
import { configCommand, mailCommand } from "./site-files";

type Values = { [K in OptName]?: (typeof OPTIONS)[K]["type"] extends "string" ? string : boolean };

/**
 * moodle-dind: the same verbs as the dashboard. Local by default (drives the engine directly);
 * with --url or MOODLE_DIND_URL plus a token it drives a remote host through the REST API.
 * Verbs and options come from one table (verbs.ts) shared with help and completion.
 */
export async function main(argv: string[]): Promise<number> {
  // The cluster verbs parse their own options (edge/cli/cluster.ts, docs/cluster.md).
  if (argv[0] === "cluster") return (await import("./cluster")).clusterCommand(argv.slice(1));
  const dashdash = argv.indexOf("--");
  const rest = dashdash >= 0 ? argv.slice(dashdash + 1) : [];
  const { values, positionals } = parseArgs({
    args: dashdash >= 0 ? argv.slice(0, dashdash) : argv,
    allowPositionals: true,
    strict: true,
    options: parseArgsOptions(),
  }) as { values: Values; positionals: string[] };
  const [typed, ...args] = positionals;
  // An alias (`delete`) runs as its verb (`remove`) from here on: one name in help, errors and the switch.
  const cmd = typed === undefined ? undefined : (verb(typed)?.name ?? typed);
  if (!cmd) {
    process.stdout.write(globalUsage());
    return values.help ? 0 : 2;
  }
  const spec = verb(cmd);
  if (!spec) throw usage(`unknown command '${cmd}' (moodle-dind --help lists them)`);
  const allowed = new Set<string>(verbOptions(spec));
  const stray = Object.keys(values).filter((k) => !allowed.has(k));
  if (stray.length) throw usage(`${cmd} does not take --${stray[0]} (moodle-dind ${cmd} --help lists its options)`);
  if (values.help || cmd === "help") {
    const byName = cmd === "help" && !values.help;
    const about = byName ? (args[0] ? verb(args[0]) : undefined) : spec;
    if (byName && args[0] && !about) throw usage(`unknown command '${args[0]}'`);
    process.stdout.write(about ? verbHelp(about) : globalUsage());
    return 0;
  }
  if (cmd === "completion") {
    if (args[0] !== "bash" && args[0] !== "zsh") throw usage("completion bash|zsh");
    process.stdout.write(args[0] === "bash" ? bashCompletion() : zshCompletion());
    return 0;
  }
  if (spec.localOnly && values.url) throw usage(`${cmd} works on this machine only: ${spec.localOnly}`);
  if (cmd === "up" || cmd === "down") {
    const { hostUp, hostDown } = await import("./host");
    return cmd === "up" ? hostUp({ allInterfaces: values["all-interfaces"] === true }) : hostDown();
  }
  const backend: Backend = await backendFor({ url: values.url, token: values.token });
  const json = values.json === true;
  const out = (v: unknown, text: () => string) => process.stdout.write(json ? `${JSON.stringify(v, null, json ? 0 : 2)}\n` : `${text()}\n`);
  const need = (what: string) => {
    if (!args[0]) throw usage(`${cmd} needs ${what}`);
    return args[0];
  };

  const blueprintOpts = () => {
    const onError = values["on-error"];
    if (onError !== undefined && onError !== "abort" && onError !== "warn") throw usage("--on-error must be abort or warn");
    return { force: values.force === true, onError, allowUnsafe: values["allow-unsafe"] === true, allowUrls: values["allow-urls"] === true } as const;
  };

  switch (cmd) {
    case "create": {
      const input: Record<string, unknown> = { name: need("a name") };
      if (values.moodle) input.moodle = values.moodle;
      if (values.php) input.php = values.php;
      if (values.db) input.db = values.db;
      if (values.web) input.web = values.web;
      if (values["web-version"]) input.webVersion = values["web-version"];
      if (values["site-name"]) input.siteName = values["site-name"];
      if (values.profile) input.profile = values.profile;
      if (values["no-install"]) input.install = false;
      if (values["no-template"]) input.template = false;
      const view = await backend.create(parseCreateInput(input), printProgress(json), values.blueprint, blueprintOpts());
      out(view, () => `${view.name} is ${view.status} at ${view.url} (172.20.${view.n}.0/24, port ${view.port})`);
      return 0;
    }
    case "list": {
      if (values.names) {
        const names = await backend.names();
        if (names.length) process.stdout.write(`${names.join("\n")}\n`);
        return 0;
      }
      const list = await backend.list();
      out(list, () =>
        list.length === 0
          ? "no instances"
          : list.map((i) => `${i.name.padEnd(20)} ${i.status.padEnd(10)} ${i.url.padEnd(26)} php ${i.php}  ${i.db}  ${i.web}  ${i.subnet}`).join("\n"),
      );
      return 0;
    }
    case "info": {
      const info = await backend.info(need("a name"), values["show-password"] === true);
      out(info, () => JSON.stringify(info, null, 2));
      return 0;
    }
    case "login-link": {
      const link = await backend.loginLink(need("a name"));
      out(link, () => link.url);
      return 0;
    }
    case "start":
    case "stop":
    case "restart": {
      const view = await backend.action(need("a name"), cmd, printProgress(json));
      out(view, () => `${view.name}: ${view.status}`);
      return 0;
    }
    case "remove": {
      const name = need("a name");
      if (!values.yes) throw usage("remove deletes the instance and its data: pass --yes to confirm");
      await backend.remove(name, printProgress(json));
      out({ name, removed: true }, () => `${name} removed`);
      return 0;
    }
    case "logs": {
      const tail = values.tail ? Number.parseInt(values.tail, 10) : undefined;
      await backend.logs(need("a name"), values.service ?? "app", { tail, follow: values.follow === true }, process.stdout);
      return 0;
    }
    case "exec": {
      if (rest.length === 0) throw usage("exec needs a command after --");
      return backend.exec(need("a name"), values.service ?? "app", rest);
    }
    case "images": {
      const [sub, ...specs] = args;
      if (sub === "build") {
        await backend.imagesBuild(specs.length ? specs : ["all"], (l) => process.stderr.write(`${l}\n`));
        return 0;
      }
      if (sub === "list") {
        const rows = await backend.imagesList();
        out(rows, () => rows.map((r) => JSON.stringify(r)).join("\n"));
        return 0;
      }
      if (sub === "save") {
        await backend.imagesSave(values.dir ?? "shared-images", (l) => process.stderr.write(`${l}\n`));
        return 0;
      }
      throw usage("images build|list|save");
    }
    case "blueprint": {
      const [sub, name, file] = args;
      if (sub !== "apply" || !name || !file) throw usage("blueprint apply <name> FILE");
      const r = await backend.blueprintApply(name, file, blueprintOpts(), printProgress(json));
      out(r, () => `${name}: blueprint ${r.status}${r.changed ? " (changed)" : ""}, ${r.steps.filter((s) => s.status === "failed").length} failed step(s)`);
      return r.status === "partial" ? 1 : 0;
    }
    case "clone": {
      const [from, to] = args;
      if (!from || !to) throw usage("clone <source> <new-name>");
      if (!backend.clone) throw usage("clone is not available through this backend");
      const view = await backend.clone(from, to, printProgress(json));
      out(view, () => `${view.name} is ${view.status} at ${view.url} (clone of ${from})`);
      return 0;
    }
    case "export": {
      const name = need("a name");
      if (!backend.exportTo) throw usage("export is not available through this backend");
      const r = await backend.exportTo(name, values.file ?? `${name}.moodle-dind.tar.gz`, printProgress(json));
      out(r, () => `exported ${name} to ${r.file} (${(r.bytes / 1024 / 1024).toFixed(1)} MiB)`);
      return 0;
    }
    case "import": {
      const [file, name] = args;
      if (!file || !name) throw usage("import <archive> <new-name>");
      if (!backend.importFrom) throw usage("import is not available through this backend");
      const view = await backend.importFrom(file, name, printProgress(json));
      out(view, () => `${view.name} is ${view.status} at ${view.url} (imported from ${file})`);
      return 0;
    }
    case "snapshot": {
      const [sub, name, arg] = args;
      if (!name || !["create", "list", "restore"].includes(sub ?? "")) throw usage("snapshot create|list|restore <name> [id|label]");
      if (!backend.snapshot) throw usage("snapshots are not available through this backend");
      const r = await backend.snapshot(name, sub as "create" | "list" | "restore", arg, printProgress(json));
      out(r, () => JSON.stringify(r, null, 2));
      return 0;
    }
    case "php": {
      const [name, version] = args;
      if (!name || !version) throw usage("php <name> <7.4|8.2|8.4>");
      if (!backend.switchPhp) throw usage("php switch is not available through this backend");
      const view = await backend.switchPhp(name, version, printProgress(json));
      out(view, () => `${view.name} now runs PHP ${view.php}`);
      return 0;
    }
    case "profile": {
      const [name, profile] = args;
      if (!name || (profile !== "dev" && profile !== "prod")) throw usage("profile <name> dev|prod");
      if (!backend.setProfile) throw usage("profile switch is not available through this backend");
      const view = await backend.setProfile(name, profile, printProgress(json));
      out(view, () => `${view.name} now runs the ${view.profile} profile`);
      return 0;
    }
    case "upgrade": {
      const name = need("a name");
      if (!values.to) throw usage("upgrade <name> --to BRANCH|RELEASE|BUILD-ID [--clone NEW]");
      if (!backend.upgrade) throw usage("upgrade is not available through this backend");
      const req = parseUpgradeInput({ to: values.to, ...(values.clone ? { clone: values.clone } : {}) });
      const view = await backend.upgrade(name, req, printProgress(json));
      out(view, () => `${view.name} now runs Moodle ${view.release}${view.build ? ` (build ${view.build})` : ""}${req.clone ? `; ${name} still runs its old build` : ""}`);
      return 0;
    }
    case "moodle":
      return moodleCommand(backend, args, values, json, out);
    case "config":
      return configCommand(backend, args, values, json, out);
    case "mail":
      return mailCommand(backend, args, values, json, out);
    case "reconcile": {
      const report = await backend.reconcile();
      out(report, () => JSON.stringify(report, null, 2));
      return 0;
    }
    default:
      throw usage(`unknown command '${cmd}'`);
  }
}

const mib = (n: number) => `${(n / 1024 ** 2).toFixed(1)} MiB`;

/** moodle add|list|remove|download: the build library. Progress goes to stderr (printProgress). */
async function moodleCommand(
  backend: Backend,
  args: string[],
  values: { yes?: boolean; git?: string; ref?: string },
  json: boolean,
  out: (v: unknown, text: () => string) => void,
): Promise<number> {
  const [sub, arg] = args;
  const built = (b: { id: string; release: string; branch: string; files: number; sizeBytes: number; vendor: boolean }) =>
    `${b.id}: Moodle ${b.release} (branch ${b.branch}, ${b.files} files, ${mib(b.sizeBytes)}${b.vendor ? "" : ", no vendor/"})`;
  switch (sub) {
    case "list": {
      const { builds, skipped } = await backend.moodleList();
      const rows = builds.map(({ id, branch, release, version, origin, sizeBytes, vendor, usedBy }) => ({ id, branch, release, version, origin, sizeBytes, vendor, usedBy }));
      if (!json) for (const s of skipped) process.stderr.write(`skipped ${s.entry}: ${s.error}\n`);
      out(rows, () =>
        rows.length === 0
          ? "no Moodle builds: add one with `moodle-dind moodle add PATH` or `moodle-dind moodle download VERSION`"
          : rows.map((r) => `${r.id.padEnd(28)} ${r.release.padEnd(26)} ${r.origin.padEnd(14)} ${mib(r.sizeBytes).padStart(10)}${r.vendor ? "" : "  no vendor/"}${r.usedBy.length ? `  used by ${r.usedBy.join(", ")}` : ""}`).join("\n"),
      );
      return 0;
    }
    case "add": {
      if (!arg) throw usage("moodle add PATH (a Moodle folder, .tgz, .tar.gz or .zip)");
      const b = await backend.moodleAdd(arg, printProgress(json));
      out(b, () => built(b));
      return 0;
    }
    case "download": {
      if (!arg) throw usage("moodle download VERSION [--git URL [--ref TAG]]");
      const b = await backend.moodleDownload({ version: arg, git: values.git, ref: values.ref }, printProgress(json));
      out(b, () => built(b));
      return 0;
    }
    case "remove": {
      if (!arg) throw usage("moodle remove ID [--yes]");
      if (!values.yes && !(await confirm(`remove Moodle build ${arg} from the library? [y/N] `))) {
        throw usage("moodle remove deletes the build: pass --yes to confirm");
      }
      await backend.moodleRemove(arg);
      out({ id: arg, removed: true }, () => `${arg} removed`);
      return 0;
    }
    default:
      throw usage("moodle add PATH | list | remove ID | download VERSION");
  }
}

/** Ask on a terminal; without one (a script) the answer is no. */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) return false;
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

function usage(msg: string) {
  return new UsageError(msg);
}

export { exitCodeFor };

export function oneLine(e: unknown): string {
  const msg = isAppError(e) && e.step ? `${e.step}: ${e.message}` : e instanceof Error ? e.message : String(e);
  return msg.split("\n")[0].slice(0, 500);
}
