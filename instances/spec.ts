import { z } from "zod";
import { ValidationError } from "../lib/errors";
import { nameSchema } from "../lib/names";
import {
  findBranch, MOODLE_BRANCHES, PHP_VERSIONS, stackDefaults, versionsOf, WEB_SERVERS,
  type DbEngine, type MoodleBranch, type PhpVersion, type Present, type WebServer,
} from "../lib/versions";

/**
 * What an instance is made of: the create input, validated once (REST and the CLI both call
 * parseCreateInput), and resolved against the version table in lib/versions.ts.
 */
export { PHP_VERSIONS, WEB_SERVERS, MOODLE_BRANCHES, type PhpVersion, type DbEngine, type WebServer, type MoodleBranch } from "../lib/versions";

const dbSchema = z
  .string()
  .max(20)
  .regex(/^(postgres|mariadb)(:[0-9]{1,2}(\.[0-9]{1,2})?)?$/, "postgres[:13|15|17] or mariadb[:10.5|10.11|11.8]");

export const createInputSchema = z
  .object({
    name: nameSchema,
    moodle: z
      .string()
      .max(32)
      .regex(/^(\d\.\d|fixture|auto|\d\.\d{1,2}\.\d{1,2}|\d\.\d{1,2}-\d{10}(\.\d{2})?-[0-9a-f]{8})$/, "a branch (5.1), a release (5.1.2) or a Moodle build id")
      .default("auto"),
    php: z.enum(PHP_VERSIONS as [string, ...string[]]).optional(),
    db: dbSchema.default("postgres"),
    web: z.enum(WEB_SERVERS).default("nginx"),
    webVersion: z.string().max(6).regex(/^\d\.\d{1,2}$/).optional(),
    siteName: z.string().max(100).regex(/^[^\u0000-\u001f<>]*$/, "no control characters or angle brackets").optional(),
    adminEmail: z.string().max(100).email().optional(),
    /** Skip the install hook (a bare stack). */
    install: z.boolean().default(true),
    /** Create from the pristine template when one exists. */
    template: z.boolean().default(true),
    profile: z.enum(["dev", "prod"]).default("dev"),
    limits: z
      .object({
        memoryMb: z.number().int().min(64).max(16384).optional(),
        cpus: z.number().min(0.1).max(64).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

export type CreateInput = z.input<typeof createInputSchema>;

export interface InstanceSpec {
  name: string;
  moodle: string;
  php: PhpVersion;
  db: { engine: DbEngine; version: string };
  web: { server: WebServer; version: string };
  siteName: string;
  adminEmail: string;
  install: boolean;
  template: boolean;
  profile: "dev" | "prod";
  limits: { memoryMb?: number; cpus?: number };
}

/** Turn a zod failure into our ValidationError naming the first bad field. */
export function zodFail(err: z.ZodError): ValidationError {
  const issue = err.issues[0];
  const field = issue?.path.join(".") || undefined;
  return new ValidationError(`${field ? `${field}: ` : ""}${issue?.message ?? "invalid input"}`, field);
}

export function branchInfo(moodle: string): MoodleBranch {
  const b = findBranch(moodle);
  if (!b) {
    throw new ValidationError(
      `moodle: unsupported branch '${moodle}'. Allowed: ${MOODLE_BRANCHES.map((x) => x.branch).join(", ")}`,
      "moodle",
    );
  }
  return b;
}

/** The one typed create input: every face (REST, CLI, clone, import) parses with this, once. */
export type CreateRequest = z.output<typeof createInputSchema>;

export function parseCreateInput(raw: unknown): CreateRequest {
  const r = createInputSchema.safeParse(raw);
  if (!r.success) throw zodFail(r.error);
  return r.data;
}

/**
 * Resolve a parsed request against the version table. `detectedBranch` is the branch of the Moodle
 * build that will be used; `present` the images already on the engine, which defaults prefer.
 */
export function resolveSpec(inp: CreateRequest, detectedBranch: string, present?: Present): InstanceSpec {
  const moodle = inp.moodle === "auto" || !findBranch(inp.moodle) ? detectedBranch : inp.moodle;
  const branch = branchInfo(moodle);
  const php = inp.php ?? stackDefaults(branch, present).php;
  if (!branch.php.includes(php)) {
    throw new ValidationError(`php: Moodle ${moodle} runs on PHP ${branch.php.join(", ")}, not ${php}`, "php");
  }
  const defaults = stackDefaults(branch, present, php);
  const [engineRaw, dbVersionRaw] = inp.db.split(":");
  const engine = engineRaw as DbEngine;
  const allowedDb = engine === "postgres" ? branch.postgres : branch.mariadb;
  const dbVersion = dbVersionRaw ?? defaults[engine];
  if (!allowedDb.includes(dbVersion)) {
    throw new ValidationError(`db: Moodle ${moodle} supports ${engine} ${allowedDb.join(", ")}, not ${dbVersion}`, "db");
  }
  const webVersion = inp.webVersion ?? defaults[inp.web];
  const webAllowed = versionsOf(inp.web);
  if (!webAllowed.includes(webVersion)) {
    throw new ValidationError(`webVersion: ${inp.web} ${webAllowed.join(", ")} are available, not ${webVersion}`, "webVersion");
  }
  return {
    name: inp.name,
    moodle,
    php,
    db: { engine, version: dbVersion },
    web: { server: inp.web, version: webVersion },
    siteName: inp.siteName ?? `Moodle ${inp.name}`,
    adminEmail: inp.adminEmail ?? `admin@${inp.name}.moodle-dind.test`,
    install: inp.install,
    template: inp.template,
    profile: inp.profile,
    limits: inp.limits ?? {},
  };
}

/** The choices the create form offers, straight from the table, with first-click defaults per branch. */
export function compatibilityMatrix(present?: Present) {
  return MOODLE_BRANCHES.map((b) => ({
    ...b,
    web: { nginx: versionsOf("nginx"), apache: versionsOf("apache") },
    defaults: stackDefaults(b, present),
  }));
}
