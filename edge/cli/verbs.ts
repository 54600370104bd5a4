import { KINDS, PHP_VERSIONS, REAL_BRANCHES, WEB_SERVERS, versionsOf } from "../../lib/versions";
import { SERVICES } from "../../instances/stack";

/**
 * The one table of the CLI's verbs and options. main.ts parses with it (an option a verb does not
 * list is refused), help.ts prints each verb's usage from it and completion.ts writes the bash/zsh
 * scripts from it, so the three cannot disagree.
 */

/** What a positional argument is, for completion: an instance name, a file, free text or fixed words. */
export type Arg = "instance" | "file" | "text" | readonly string[];

export interface OptSpec {
  type: "string" | "boolean";
  short?: string;
  /** The value's placeholder in help (string options). */
  arg?: string;
  desc: string;
  /** Completion for the value: fixed words, or files. */
  values?: readonly string[] | "file";
}

const uniq = (xs: string[]) => [...new Set(xs)];

export const OPTIONS = {
  moodle: { type: "string", arg: "VERSION", desc: "a branch (5.1), a release (5.1.2), a library build id, or fixture", values: ["fixture", ...REAL_BRANCHES] },
  php: { type: "string", arg: "X.Y", desc: `PHP version (${PHP_VERSIONS.join(", ")}); default: the newest the branch takes`, values: PHP_VERSIONS },
  db: { type: "string", arg: "ENGINE[:X]", desc: "database engine and version", values: uniq(["postgres", "mariadb", ...versionsOf("postgres").map((v) => `postgres:${v}`), ...versionsOf("mariadb").map((v) => `mariadb:${v}`)]) },
  web: { type: "string", arg: "SERVER", desc: "web server", values: WEB_SERVERS },
  "web-version": { type: "string", arg: "X.Y", desc: "web server version (default: the stack's)", values: uniq(WEB_SERVERS.flatMap((w) => versionsOf(w))) },
  "site-name": { type: "string", arg: "S", desc: "the Moodle site's full name" },
  "no-install": { type: "boolean", desc: "a bare stack: skip Moodle's install" },
  "no-template": { type: "boolean", desc: "install from scratch instead of the pristine template" },
  profile: { type: "string", arg: "dev|prod", desc: "dev: code revalidated at once; prod: no revalidation", values: ["dev", "prod"] },
  blueprint: { type: "string", arg: "FILE", desc: "apply this blueprint after create (blueprint.json, bundle folder or ZIP)", values: "file" },
  force: { type: "boolean", desc: "apply again even when the same blueprint was applied" },
  "on-error": { type: "string", arg: "abort|warn", desc: "what a failed blueprint step does", values: ["abort", "warn"] },
  "allow-unsafe": { type: "boolean", desc: "allow blueprint steps that run code" },
  "allow-urls": { type: "boolean", desc: "allow a blueprint given as an http(s) URL" },
  json: { type: "boolean", desc: "print one JSON document on stdout (progress stays on stderr)" },
  yes: { type: "boolean", short: "y", desc: "confirm a destructive command without asking" },
  service: { type: "string", short: "s", arg: "SVC", desc: `the service (${SERVICES.join(", ")}); default app`, values: SERVICES },
  tail: { type: "string", arg: "N", desc: "the last N lines (default 200)" },
  follow: { type: "boolean", short: "f", desc: "keep streaming new lines" },
  dir: { type: "string", arg: "DIR", desc: "folder for the image tars (default shared-images)", values: "file" },
  file: { type: "string", arg: "F", desc: "export: the archive to write (default NAME.moodle-dind.tar.gz); config set: the new content", values: "file" },
  "show-password": { type: "boolean", desc: "include the Moodle admin login" },
  names: { type: "boolean", desc: "instance names only, one a line (for scripts and completion)" },
  "all-interfaces": { type: "boolean", desc: "publish the dashboard and instances on every interface, not 127.0.0.1" },
  git: { type: "string", arg: "URL", desc: "clone this git repository instead of downloading the package" },
  ref: { type: "string", arg: "TAG", desc: "the git tag or branch (default: Moodle's for the version)" },
  to: { type: "string", arg: "TARGET", desc: "a branch, release or library build id newer than the site's", values: REAL_BRANCHES },
  clone: { type: "string", arg: "NEW", desc: "rehearse on a clone named NEW; the site keeps running its old build" },
  url: { type: "string", arg: "URL", desc: "drive a remote host's REST API (or MOODLE_DIND_URL)" },
  token: { type: "string", arg: "T", desc: "the API token for --url (or MOODLE_DIND_TOKEN; create one under Settings)" },
  help: { type: "boolean", short: "h", desc: "this help" },
} as const satisfies Record<string, OptSpec>;

export type OptName = keyof typeof OPTIONS;

/** Options every verb takes. */
export const GLOBAL_OPTIONS: readonly OptName[] = ["url", "token", "help"];

export interface SubSpec {
  args: readonly Arg[];
  /** Completion for every further argument. */
  rest?: Arg;
}

export interface VerbSpec {
  name: string;
  /** Usage lines after `moodle-dind `. */
  usage: readonly string[];
  summary: string;
  options: readonly OptName[];
  args?: readonly Arg[];
  subs?: Readonly<Record<string, SubSpec>>;
  examples: readonly string[];
  /** Drives this machine's engine only (no --url). */
  localOnly?: string;
  /** Parsed and helped by its own module (main.ts hands it the rest of the line). */
  delegated?: string;
  /** Other names users type for this verb (`delete` for `remove`): parsed as the verb itself. */
  aliases?: readonly string[];
}

const I = "instance" as const;
const BP: OptName[] = ["force", "on-error", "allow-unsafe", "allow-urls"];

const OWN_VERBS: readonly VerbSpec[] = [
  {
    name: "create",
    usage: ["create <name> [options]"],
    summary: "Create an instance: its own network, database, PHP, web server and cron, with Moodle installed.",
    options: ["moodle", "php", "db", "web", "web-version", "site-name", "no-install", "no-template", "profile", "blueprint", ...BP, "json"],
    args: ["text"],
    examples: ["moodle-dind create demo --moodle 5.1 --db mariadb:10.11 --web apache --web-version 2.4", "moodle-dind create t1 --moodle fixture --no-install --json"],
  },
  { name: "list", usage: ["list [--json | --names]"], summary: "List instances with status, URL, stack and subnet.", options: ["json", "names"], examples: ["moodle-dind list --names"] },
  { name: "info", usage: ["info <name> [--json] [--show-password]"], summary: "One instance in detail, with cron's last run.", options: ["json", "show-password"], args: [I], examples: ["moodle-dind info demo --show-password"] },
  {
    name: "login-link",
    usage: ["login-link <name> [--json]"],
    summary: "A one-time link (single use, valid 60 s) that opens the site logged in as its admin.",
    options: ["json"],
    args: [I],
    examples: ["moodle-dind login-link demo"],
  },
  { name: "start", usage: ["start <name>"], summary: "Start every service of an instance.", options: ["json"], args: [I], examples: ["moodle-dind start demo"] },
  { name: "stop", usage: ["stop <name>"], summary: "Stop an instance; its data stays.", options: ["json"], args: [I], examples: ["moodle-dind stop demo"] },
  { name: "restart", usage: ["restart <name>"], summary: "Restart every service of an instance.", options: ["json"], args: [I], examples: ["moodle-dind restart demo"] },
  { name: "remove", aliases: ["delete", "rm"], usage: ["remove <name> --yes"], summary: "Remove an instance and all its data (also: delete, rm).", options: ["yes", "json"], args: [I], examples: ["moodle-dind remove demo --yes"] },
  {
    name: "logs",
    usage: ["logs <name> [--service app] [--tail N] [--follow]"],
    summary: "A service's output.",
    options: ["service", "tail", "follow"],
    args: [I],
    examples: ["moodle-dind logs demo --service web --tail 50 --follow"],
  },
  {
    name: "exec",
    usage: ["exec <name> [--service app] -- <command> [args…]"],
    summary: "Run a command in a service's container (argv as given, no shell unless you ask for one). Over --url: no TTY and no stdin (an interactive shell is the instance page's Terminal).",
    options: ["service"],
    args: [I],
    examples: ["moodle-dind exec demo -- php admin/cli/purge_caches.php"],
  },
  {
    name: "images",
    usage: ["images build <kind:version|all>…", "images list [--json]", "images save [--dir shared-images]"],
    summary: "Build, list or save (as tars for the inner engine) the stack images.",
    options: ["json", "dir"],
    subs: { build: { args: [], rest: ["all", ...KINDS.flatMap((k) => versionsOf(k).map((v) => `${k}:${v}`))] }, list: { args: [] }, save: { args: [] } },
    examples: ["moodle-dind images build php:8.2 postgres:15", "moodle-dind images list --json"],
  },
  { name: "clone", usage: ["clone <source> <new>"], summary: "Copy an instance (code, database, moodledata, config) into a new one.", options: ["json"], args: [I, "text"], examples: ["moodle-dind clone demo demo-copy"] },
  {
    name: "export",
    usage: ["export <name> [--file F]"],
    summary: "Write the instance as one .tar.gz (DB dump, code, moodledata, config; no secrets). Over --url it is downloaded with progress.",
    options: ["file", "json"],
    args: [I],
    examples: ["moodle-dind export demo --file /tmp/demo.tar.gz"],
  },
  {
    name: "import",
    usage: ["import <archive> <new>"],
    summary: "Create a new instance from an export archive. Over --url the archive is uploaded with progress.",
    options: ["json"],
    args: ["file", "text"],
    examples: ["moodle-dind import /tmp/demo.tar.gz demo2"],
  },
  {
    name: "snapshot",
    usage: ["snapshot create <name> [label]", "snapshot list <name>", "snapshot restore <name> <id>"],
    summary: "Snapshots kept beside the instance: create, list, restore (the site goes back to that moment).",
    options: ["json"],
    subs: { create: { args: [I, "text"] }, list: { args: [I] }, restore: { args: [I, "text"] } },
    examples: ["moodle-dind snapshot create demo before-upgrade", "moodle-dind snapshot restore demo 20261129-190000-before-upgrade"],
  },
  { name: "php", usage: ["php <name> <X.Y>"], summary: "Switch the instance's PHP within its Moodle branch's range (app and cron are recreated).", options: ["json"], args: [I, PHP_VERSIONS], examples: ["moodle-dind php demo 8.4"] },
  {
    name: "profile",
    usage: ["profile <name> dev|prod"],
    summary: "Switch the performance profile (dev: code revalidated at once; prod: no revalidation); restarts the app.",
    options: ["json"],
    args: [I, ["dev", "prod"]],
    examples: ["moodle-dind profile demo prod"],
  },
  {
    name: "upgrade",
    usage: ["upgrade <name> --to BRANCH|RELEASE|BUILD-ID [--clone NEW] [--json]"],
    summary: "Moodle's own upgrade to a newer library build, with a snapshot and automatic rollback; --clone rehearses on a copy.",
    options: ["to", "clone", "json"],
    args: [I],
    examples: ["moodle-dind upgrade demo --to 5.1 --clone demo-rehearsal"],
  },
  {
    name: "moodle",
    usage: ["moodle add PATH", "moodle list [--json]", "moodle remove ID [--yes]", "moodle download VERSION [--git URL [--ref TAG]]"],
    summary: "The Moodle build library: add a folder or package (.tgz, .tar.gz, .zip), list, remove, download (4.5 = latest of the branch, 4.5.5 = that release).",
    options: ["json", "yes", "git", "ref"],
    subs: { add: { args: ["file"] }, list: { args: [] }, remove: { args: ["text"] }, download: { args: [REAL_BRANCHES] } },
    examples: ["moodle-dind moodle add ~/moodle-4.5.5.tgz", "moodle-dind moodle download 5.1"],
  },
  {
    name: "config",
    usage: ["config list <name> [--json]", "config get <name> DIR/FILE", "config set <name> DIR/FILE --file F [--json]"],
    summary: "The instance's editable config files (config/<svc>-<ver>/…): list, print, or validate with the service's own checker and save (then restart what it names).",
    options: ["file", "json"],
    subs: { list: { args: [I] }, get: { args: [I, "text"] }, set: { args: [I, "text"] } },
    examples: ["moodle-dind config get demo php-8.2/php.ini > php.ini && moodle-dind config set demo php-8.2/php.ini --file php.ini"],
  },
  {
    name: "mail",
    usage: ["mail list <name> [--json]", "mail show <name> ID [--json]", "mail clear <name> --yes"],
    summary: "Mail the instance sent, caught by the host: list, show one message (text, headers, attachments), empty the mailbox.",
    options: ["json", "yes"],
    subs: { list: { args: [I] }, show: { args: [I, "text"] }, clear: { args: [I] } },
    examples: ["moodle-dind mail list demo --json"],
  },
  { name: "reconcile", usage: ["reconcile [--json]"], summary: "Repair the registry, folders and engine after a crash.", options: ["json"], examples: ["moodle-dind reconcile --json"] },
  {
    name: "blueprint",
    usage: ["blueprint apply <name> FILE [--force] [--on-error abort|warn] [--allow-unsafe] [--allow-urls] [--json]"],
    summary: "Apply a blueprint (blueprint.json, a bundle folder or ZIP) to an instance.",
    options: [...BP, "json"],
    subs: { apply: { args: [I, "file"] } },
    examples: ["moodle-dind blueprint apply demo ./course-bundle.zip --on-error warn"],
  },
  { name: "up", usage: ["up [--all-interfaces]"], summary: "Start the DinD host (engine check, images, host container) and print the dashboard URL.", options: ["all-interfaces"], examples: ["moodle-dind up"], localOnly: "it starts this machine's host container" },
  { name: "down", usage: ["down"], summary: "Stop the DinD host; the volumes keep every instance.", options: [], examples: ["moodle-dind down"], localOnly: "it stops this machine's host container" },
  {
    name: "cluster",
    usage: ["cluster init|join|nodes|drain|activate|up|down|create|list|move|snapshot|export|clone|logs|remove|recover …"],
    summary: "Several DinD hosts in one Docker Swarm (docs/cluster.md); `moodle-dind cluster --help` lists its own verbs and options.",
    options: [],
    subs: Object.fromEntries(["init", "certs", "join", "add", "leave", "nodes", "drain", "activate", "up", "down", "create", "list", "start", "move", "snapshot", "export", "clone", "logs", "remove", "recover"].map((s) => [s, { args: [] }])),
    examples: ["moodle-dind cluster up --nodes 3"],
    delegated: "edge/cli/cluster.ts",
  },
  { name: "completion", usage: ["completion bash|zsh"], summary: "Print a shell completion script (verbs, options, instance names).", options: [], args: [["bash", "zsh"]], examples: ["source <(moodle-dind completion bash)"] },
];

/** `help`'s argument completes to the verbs themselves. */
export const VERBS: readonly VerbSpec[] = [
  ...OWN_VERBS,
  { name: "help", usage: ["help [VERB]"], summary: "The global usage, or one verb's.", options: [], args: [OWN_VERBS.map((v) => v.name)], examples: ["moodle-dind help create"] },
];

export function verb(name: string): VerbSpec | undefined {
  return VERBS.find((v) => v.name === name || v.aliases?.includes(name));
}

/** The options a verb accepts: its own and the global ones. */
export function verbOptions(v: VerbSpec): OptName[] {
  return [...new Set([...v.options, ...GLOBAL_OPTIONS])];
}

/** node:util parseArgs' option config, for every option in the table. */
export function parseArgsOptions(): Record<string, { type: "string" | "boolean"; short?: string }> {
  return Object.fromEntries(
    Object.entries(OPTIONS).map(([k, o]) => [k, "short" in o ? { type: o.type, short: o.short } : { type: o.type }]),
  );
}

/** The option's spelling in help: "--php X.Y", "-s, --service SVC". */
export function optionLabel(name: OptName): string {
  const o: OptSpec = OPTIONS[name];
  return `${o.short ? `-${o.short}, ` : ""}--${name}${o.arg ? ` ${o.arg}` : ""}`;
}
