import { z } from "zod";
import { ValidationError } from "../lib/errors";
import { nameSchema } from "../lib/names";

/**
 * What an instance is made of, and which combinations are allowed. This is the one place the
 * Moodle ↔ PHP ↔ DB compatibility table lives; the create form, the API and the CLI all read it.
 */
export const PHP_VERSIONS = ["7.4", "8.2", "8.4"] as const;
export const POSTGRES_VERSIONS = ["13", "15", "17"] as const;
export const MARIADB_VERSIONS = ["10.5", "10.11", "11.8"] as const;
export const WEB_SERVERS = ["nginx", "apache"] as const;
export const NGINX_VERSIONS = ["1.18", "1.22", "1.26"] as const;
export const APACHE_VERSIONS = ["2.4"] as const;

export type PhpVersion = (typeof PHP_VERSIONS)[number];
export type DbEngine = "postgres" | "mariadb";
export type WebServer = (typeof WEB_SERVERS)[number];

export interface MoodleBranch {
  branch: string;
  php: PhpVersion[];
  postgres: string[];
  mariadb: string[];
  /** 5.1 moved the web root to public/. */
  publicDir: boolean;
  /** Bookworm's PHP where allowed: one Debian suite for the whole default stack. */
  defaultPhp: PhpVersion;
}

/**
 * Moodle's own requirements (admin/environment.xml) intersected with what Debian ships.
 * 4.1 wants PHP 7.4–8.1; 4.5 wants 8.1–8.3; 5.0 and 5.1 want 8.2–8.4. Postgres ≥ 12/13/14 and
 * MariaDB ≥ 10.4/10.6 respectively. "fixture" is our CI app, which runs on everything.
 */
export const MOODLE_BRANCHES: MoodleBranch[] = [
  { branch: "4.1", php: ["7.4"], postgres: ["13", "15", "17"], mariadb: ["10.5", "10.11", "11.8"], publicDir: false, defaultPhp: "7.4" },
  { branch: "4.5", php: ["8.2"], postgres: ["13", "15", "17"], mariadb: ["10.11", "11.8"], publicDir: false, defaultPhp: "8.2" },
  { branch: "5.0", php: ["8.2", "8.4"], postgres: ["15", "17"], mariadb: ["10.11", "11.8"], publicDir: false, defaultPhp: "8.2" },
  { branch: "5.1", php: ["8.2", "8.4"], postgres: ["15", "17"], mariadb: ["10.11", "11.8"], publicDir: true, defaultPhp: "8.2" },
  { branch: "fixture", php: ["7.4", "8.2", "8.4"], postgres: ["13", "15", "17"], mariadb: ["10.5", "10.11", "11.8"], publicDir: true, defaultPhp: "8.2" },
];

/** Web server versions follow the PHP image's Debian suite so one suite's mirror serves a stack. */
export const DEFAULT_WEB_VERSION: Record<WebServer, string> = { nginx: "1.22", apache: "2.4" };


const dbSchema = z
  .string()
  .max(20)
  .regex(/^(postgres|mariadb)(:[0-9]{1,2}(\.[0-9]{1,2})?)?$/, "postgres[:13|15|17] or mariadb[:10.5|10.11|11.8]");

export const createInputSchema = z
  .object({
    name: nameSchema,
    moodle: z.string().max(10).regex(/^(\d\.\d|fixture|auto)$/, "a branch such as 5.1").default("auto"),
    php: z.enum(PHP_VERSIONS).optional(),
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
  const b = MOODLE_BRANCHES.find((x) => x.branch === moodle);
  if (!b) {
    throw new ValidationError(
      `moodle: unsupported branch '${moodle}'. Allowed: ${MOODLE_BRANCHES.map((x) => x.branch).join(", ")}`,
      "moodle",
    );
  }
  return b;
}

/**
 * Validate raw input and resolve defaults against the compatibility table. `detectedBranch` is the
 * branch of the Moodle source that will be used, when "auto" was asked for.
 */
export function resolveSpec(raw: unknown, detectedBranch: string): InstanceSpec {
  const r = createInputSchema.safeParse(raw);
  if (!r.success) throw zodFail(r.error);
  const inp = r.data;
  const moodle = inp.moodle === "auto" ? detectedBranch : inp.moodle;
  const branch = branchInfo(moodle);

  const php = inp.php ?? branch.defaultPhp;
  if (!branch.php.includes(php)) {
    throw new ValidationError(`php: Moodle ${moodle} runs on PHP ${branch.php.join(", ")}, not ${php}`, "php");
  }
  const [engineRaw, dbVersionRaw] = inp.db.split(":");
  const engine = engineRaw as DbEngine;
  const allowedDb = engine === "postgres" ? branch.postgres : branch.mariadb;
  const dbVersion = dbVersionRaw ?? defaultDbVersion(engine, php, allowedDb);
  if (!allowedDb.includes(dbVersion)) {
    throw new ValidationError(`db: Moodle ${moodle} supports ${engine} ${allowedDb.join(", ")}, not ${dbVersion}`, "db");
  }
  const webVersion = inp.webVersion ?? defaultWebVersion(inp.web, php);
  const webAllowed = inp.web === "nginx" ? (NGINX_VERSIONS as readonly string[]) : (APACHE_VERSIONS as readonly string[]);
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

/** Prefer the DB version from the same Debian suite as PHP: one suite, fewer images. */
function defaultDbVersion(engine: DbEngine, php: string, allowed: string[]): string {
  const bySuite: Record<string, Record<DbEngine, string>> = {
    "7.4": { postgres: "13", mariadb: "10.5" },
    "8.2": { postgres: "15", mariadb: "10.11" },
    "8.4": { postgres: "17", mariadb: "11.8" },
  };
  const pick = bySuite[php]?.[engine];
  return pick && allowed.includes(pick) ? pick : allowed[allowed.length - 1];
}

function defaultWebVersion(web: WebServer, php: string): string {
  if (web === "apache") return "2.4";
  return ({ "7.4": "1.18", "8.2": "1.22", "8.4": "1.26" } as Record<string, string>)[php] ?? DEFAULT_WEB_VERSION.nginx;
}

/** The choices the create form offers, straight from the table. */
export function compatibilityMatrix() {
  return MOODLE_BRANCHES.map((b) => ({ ...b, web: { nginx: [...NGINX_VERSIONS], apache: [...APACHE_VERSIONS] } }));
}
