import { z } from "zod";
import { ValidationError } from "../errors";
import { PLUGIN_TYPE_DIRS } from "./plugins";
import { safeRelativePath } from "./safe-path";

/**
 * The step registry: every step name we recognise, how we treat it, and the allowlisted shape of its
 * arguments. Names and argument shapes follow Moodle Playground (ateeducacion/moodle-playground,
 * docs/blueprints/reference.md) so its blueprints run here unchanged where we implement the step.
 *
 *  - supported:     executed by the step executor (PHP script in the Moodle container, or host-side code)
 *  - noop:          accepted and skipped on purpose (the site is installed and logged into by provisioning)
 *  - unsafe:        runs arbitrary code or writes arbitrary files; refused unless policy.allowUnsafe
 *  - unimplemented: a real Moodle Playground step we do not do yet; refused with a clear message,
 *                   never silently skipped
 */
export type StepClass = "supported" | "noop" | "unsafe" | "unimplemented";

export interface ResourceField {
  field: string;
  /** How a plain string in this field is read when it is not an "@name" reference. */
  plainString: "literal" | "url" | "refuse";
}

export interface StepDefinition {
  name: string;
  class: StepClass;
  /** Arguments, without the `step` name and the generic `critical` flag. */
  schema?: z.ZodType;
  /** Top-level argument fields that hold resources; normalised to descriptors before `schema` runs. */
  resourceFields?: ResourceField[];
  /** Rewrites Playground aliases into the one canonical field layout, before resources and schema. */
  prepare?: (args: Record<string, unknown>) => Record<string, unknown>;
}

// ---- allowlisted value shapes -------------------------------------------------------------------

const KiB = 1024;
const NO_CONTROL = /^[^\u0000-\u001f\u007f]*$/;
const NO_NUL = /^[^\u0000]*$/;

/** A single-line human name (category, course fullname, cohort): trimmed, no control characters. */
const text = (max: number) =>
  z.string().trim().min(1, "must not be empty").max(max, `must be at most ${max} characters`).regex(NO_CONTROL, "must be a single line without control characters");
/** Rich text (intro, summary, page content): may be multi-line HTML; NUL is never legitimate. */
const html = (max: number) => z.string().max(max, `must be at most ${max} characters`).regex(NO_NUL, "must not contain NUL");

export const USERNAME_RE = /^[a-z0-9_.@-]+$/;
export const CONFIG_NAME_RE = /^[a-zA-Z0-9_]+$/;
export const COMPONENT_RE = /^[a-z]+_[a-z0-9_]+$/;
export const PLUGIN_NAME_RE = /^[a-z][a-z0-9_]*$/;
export const SHORTNAME_RE = /^[\p{L}\p{N} _.:()#&+-]+$/u;
export const IDNUMBER_RE = /^[A-Za-z0-9_.:-]+$/;

const username = z
  .string()
  .min(1, "must not be empty")
  .max(100, "must be at most 100 characters")
  .regex(USERNAME_RE, "may only contain lowercase letters, digits and _ . @ -");
const shortname = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(255, "must be at most 255 characters")
  .regex(SHORTNAME_RE, "may only contain letters, digits, spaces and _ . : ( ) # & + -");
const idnumber = z.string().min(1).max(100, "must be at most 100 characters").regex(IDNUMBER_RE, "may only contain letters, digits and _ . : -");
const configName = z.string().min(1).max(100, "must be at most 100 characters").regex(CONFIG_NAME_RE, "may only contain letters, digits and _");
/** set_config plugin names include legacy ones without an underscore (moodlecourse, backup, analytics). */
const configPlugin = z.string().min(1).max(100).regex(PLUGIN_NAME_RE, "must be a lowercase plugin name such as theme_boost or moodlecourse");
const component = z.string().max(100).regex(COMPONENT_RE, "must be a frankenstyle component such as local_foo");
const pluginName = z.string().min(1).max(64, "must be at most 64 characters").regex(PLUGIN_NAME_RE, "must be lowercase letters, digits and _ starting with a letter");
const pluginType = z
  .string()
  .refine((t) => Object.hasOwn(PLUGIN_TYPE_DIRS, t), { message: "is not a Moodle plugin type we can install" });
const roleShortname = z.string().min(1).max(100).regex(PLUGIN_NAME_RE, "must be a role shortname such as student or editingteacher");
const email = z.string().max(100, "must be at most 100 characters").regex(/^[^\s@<>"',;]+@[^\s@<>"',;]+$/, "must be an email address");
const password = z.string().min(1, "must not be empty").max(256, "must be at most 256 characters").regex(NO_NUL, "must not contain NUL");
const httpUrl = z
  .string()
  .max(2048)
  .refine((s) => {
    try {
      const u = new URL(s);
      return u.protocol === "http:" || u.protocol === "https:";
    } catch {
      return false;
    }
  }, "must be an http(s) URL");
/** Already normalised by the parser (see resourceFields); the schema only asserts the shape. */
const resource = z.custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "must be a resource");
const landingPath = z
  .string()
  .max(2048)
  .regex(/^\/(?!\/)[^\s\\]*$/, "must be a site-relative path starting with a single '/'");
/** Paths for the unsafe file steps, relative to the Moodle code root; Playground's /www/moodle/ prefix is accepted. */
const codePath = z
  .string()
  .max(4096)
  .transform((p, ctx) => {
    const rel = p.startsWith("/www/moodle/") ? p.slice("/www/moodle/".length) : p;
    try {
      return safeRelativePath(rel, "path");
    } catch (e) {
      ctx.addIssue({ code: "custom", message: `${(e as Error).message} (paths are relative to the Moodle code root)` });
      return z.NEVER;
    }
  });

// ---- argument schemas ---------------------------------------------------------------------------

const setConfigArgs = z.strictObject({
  name: configName,
  value: z
    .union([z.string().max(1024 * KiB, "must be at most 1 MiB"), z.number(), z.boolean(), z.null()])
    .default("")
    .transform((v) => (typeof v === "boolean" ? (v ? "1" : "0") : typeof v === "number" ? String(v) : v)),
  plugin: configPlugin.optional(),
});

const userArgs = z
  .strictObject({
    username,
    password: password.optional(),
    email: email.optional(),
    firstname: text(100).optional(),
    lastname: text(100).optional(),
    auth: z.enum(["manual", "nologin"]).default("manual"),
    idnumber: idnumber.optional(),
    city: text(120).optional(),
    country: z.string().regex(/^[A-Z]{2}$/, "must be a two-letter ISO country code").optional(),
    lang: z.string().max(30).regex(PLUGIN_NAME_RE, "must be a language code such as en or es_mx").optional(),
    suspended: z.boolean().default(false),
  })
  // Defaults as Moodle Playground documents them, except the password: a missing password gets a random
  // one in the PHP script rather than Playground's well-known "password".
  .transform((u) => ({
    ...u,
    email: u.email ?? `${u.username}@example.com`,
    firstname: u.firstname ?? u.username,
    lastname: u.lastname ?? "User",
  }));

const categoryArgs = z.strictObject({
  name: text(255),
  idnumber: idnumber.optional(),
  description: html(64 * KiB).default(""),
  /** Parent category, by idnumber or name. */
  parent: text(255).optional(),
});

const courseArgs = z.strictObject({
  fullname: text(254),
  shortname,
  /** Category by idnumber or name; the default category when omitted. */
  category: text(255).optional(),
  idnumber: idnumber.optional(),
  summary: html(64 * KiB).default(""),
  format: pluginName.default("topics"),
  numsections: z.number().int().min(0).max(52).default(5),
  visible: z.boolean().default(true),
});

const enrolArgs = z.strictObject({ username, course: shortname, role: roleShortname.default("student") });

const cohortArgs = z.strictObject({
  name: text(254),
  idnumber: idnumber.optional(),
  description: html(64 * KiB).default(""),
  visible: z.boolean().default(true),
  members: z.array(username).max(5000).default([]),
});

const moduleCommon = {
  course: shortname,
  section: z.number().int().min(0).max(100).default(0),
  intro: html(64 * KiB).default(""),
  visible: z.boolean().default(true),
  idnumber: idnumber.optional(),
};
export const ADD_MODULE_TYPES = ["page", "label", "url", "forum"] as const;
const addModuleArgs = z.discriminatedUnion("module", [
  z.strictObject({ module: z.literal("page"), ...moduleCommon, name: text(255), content: html(1024 * KiB).default("") }),
  z.strictObject({ module: z.literal("label"), ...moduleCommon, intro: html(64 * KiB).min(1, "a label needs an intro (its visible text)") }),
  z.strictObject({ module: z.literal("url"), ...moduleCommon, name: text(255), externalurl: httpUrl }),
  z.strictObject({
    module: z.literal("forum"),
    ...moduleCommon,
    name: text(255),
    type: z.enum(["general", "news", "qanda", "eachuser", "single", "blog"]).default("general"),
  }),
]);

const batch = <T extends z.ZodType>(field: string, item: T, max: number) =>
  z.strictObject({ [field]: z.array(item).min(1, "must not be empty").max(max, `must have at most ${max} entries`) });

/** Moodle Playground takes a download URL in `url`; we keep one canonical field, `data`, holding a resource. */
function urlToData(step: string, alsoRefuse: string[] = []) {
  return (args: Record<string, unknown>): Record<string, unknown> => {
    for (const f of alsoRefuse) {
      if (args[f] !== undefined) {
        throw new ValidationError(
          `'${f}' points at a file inside Moodle Playground's runtime, which moodle-dind does not have; use 'data' with a bundled resource or 'url'`,
        );
      }
    }
    if (args.url === undefined) return args;
    if (args.data !== undefined) throw new ValidationError(`give either 'url' or 'data', not both`);
    const { url, ...rest } = args;
    return { ...rest, data: typeof url === "string" ? { url } : url };
  };
}

function renameFields(map: Record<string, string>) {
  return (args: Record<string, unknown>): Record<string, unknown> => {
    const out = { ...args };
    for (const [from, to] of Object.entries(map)) {
      if (out[from] === undefined) continue;
      if (out[to] !== undefined) throw new ValidationError(`give either '${from}' or '${to}', not both`);
      out[to] = out[from];
      delete out[from];
    }
    return out;
  };
}

const pluginArgs = z
  .strictObject({ data: resource, pluginType: pluginType.optional(), pluginName: pluginName.optional(), component: component.optional() })
  .superRefine((a, ctx) => {
    if (!a.component) return;
    const [t, ...n] = a.component.split("_");
    if ((a.pluginType && a.pluginType !== t) || (a.pluginName && a.pluginName !== n.join("_"))) {
      ctx.addIssue({ code: "custom", path: ["component"], message: "disagrees with pluginType/pluginName" });
    }
    if (!Object.hasOwn(PLUGIN_TYPE_DIRS, t)) ctx.addIssue({ code: "custom", path: ["component"], message: `plugin type '${t}' is not one we can install` });
  });

// ---- the registry -------------------------------------------------------------------------------

const defs: StepDefinition[] = [
  { name: "setConfig", class: "supported", schema: setConfigArgs },
  { name: "setConfigs", class: "supported", schema: batch("configs", setConfigArgs, 500) },
  {
    name: "setAdminAccount",
    class: "supported",
    schema: z
      .strictObject({ username: username.optional(), password: password.optional(), email: email.optional(), firstname: text(100).optional(), lastname: text(100).optional() })
      .refine((a) => Object.keys(a).length > 0, "needs at least one of username, password, email, firstname, lastname"),
  },
  {
    name: "installMoodlePlugin",
    class: "supported",
    prepare: urlToData("installMoodlePlugin"),
    resourceFields: [{ field: "data", plainString: "url" }],
    schema: pluginArgs,
  },
  {
    name: "installTheme",
    class: "supported",
    prepare: urlToData("installTheme"),
    resourceFields: [{ field: "data", plainString: "url" }],
    schema: z.strictObject({ data: resource, pluginName: pluginName.optional() }),
  },
  { name: "setTheme", class: "supported", schema: z.strictObject({ name: pluginName }) },
  { name: "createCategory", class: "supported", schema: categoryArgs },
  { name: "createCategories", class: "supported", schema: batch("categories", categoryArgs, 500) },
  { name: "createCourse", class: "supported", schema: courseArgs },
  { name: "createCourses", class: "supported", schema: batch("courses", courseArgs, 500) },
  { name: "createUser", class: "supported", schema: userArgs },
  { name: "createUsers", class: "supported", schema: batch("users", userArgs, 1000) },
  { name: "enrolUser", class: "supported", schema: enrolArgs },
  { name: "enrolUsers", class: "supported", schema: batch("enrolments", enrolArgs, 5000) },
  { name: "createCohort", class: "supported", schema: cohortArgs },
  { name: "createCohorts", class: "supported", schema: batch("cohorts", cohortArgs, 500) },
  {
    name: "addModule",
    class: "supported",
    prepare: (args) => {
      if (typeof args.module === "string" && !(ADD_MODULE_TYPES as readonly string[]).includes(args.module)) {
        throw new ValidationError(`module '${args.module}' is not supported by addModule yet (supported: ${ADD_MODULE_TYPES.join(", ")})`);
      }
      if (args.files !== undefined) throw new ValidationError(`'files' on addModule is not supported yet`);
      return args;
    },
    schema: addModuleArgs,
  },
  {
    name: "restoreCourse",
    class: "supported",
    prepare: urlToData("restoreCourse", ["path"]),
    resourceFields: [{ field: "data", plainString: "url" }],
    schema: z.strictObject({
      data: resource,
      category: text(255).optional(),
      createCategory: z.boolean().default(true),
      fullname: text(254).optional(),
      shortname: shortname.optional(),
      visible: z.boolean().optional(),
    }),
  },

  // Provisioning installs Moodle and the dashboard logs users in, so these have nothing to do here.
  { name: "installMoodle", class: "noop", schema: z.strictObject({ options: z.record(z.string(), z.unknown()).optional() }) },
  { name: "login", class: "noop", schema: z.strictObject({ username: username.optional(), password: z.string().max(256).optional() }) },
  /** Recorded as the landingPage hint by the parser; nothing runs. */
  { name: "setLandingPage", class: "noop", schema: z.strictObject({ path: landingPath }) },

  { name: "runPhpCode", class: "unsafe", schema: z.strictObject({ code: z.string().min(1).max(1024 * KiB) }) },
  { name: "runPhpScript", class: "unsafe", schema: z.strictObject({ code: z.string().min(1).max(1024 * KiB), expectOk: z.boolean().default(true) }) },
  {
    name: "writeFile",
    class: "unsafe",
    resourceFields: [{ field: "data", plainString: "literal" }],
    schema: z.strictObject({ path: codePath, data: resource }),
  },
  {
    name: "unzip",
    class: "unsafe",
    // WordPress Playground spelled these zipFile / extractToPath; Moodle Playground accepts path for destination.
    prepare: renameFields({ zipFile: "data", extractToPath: "destination", path: "destination" }),
    resourceFields: [{ field: "data", plainString: "refuse" }],
    schema: z.strictObject({ data: resource, destination: codePath }),
  },

  ...[
    "createSection",
    "createSections",
    "createRole",
    "createRoles",
    "importRolePreset",
    "importRoles",
    "createScale",
    "createScales",
    "installLanguagePack",
    "setConfigFile",
    "setConfigFiles",
    "mkdir",
    "rmdir",
    "writeFiles",
    "copyFile",
    "moveFile",
    "deleteFile",
    "deleteFiles",
    "request",
    "applyPrOverlay",
    "purgeMoodleCaches",
  ].map((name): StepDefinition => ({ name, class: "unimplemented" })),
];

export const STEP_REGISTRY: ReadonlyMap<string, StepDefinition> = new Map(defs.map((d) => [d.name, d]));

export function getStepDefinition(name: string): StepDefinition | undefined {
  return STEP_REGISTRY.get(name);
}

export function stepNames(cls?: StepClass): string[] {
  return defs.filter((d) => !cls || d.class === cls).map((d) => d.name);
}

/** Fields whose values are secrets and must never reach logs or progress output. */
export const SECRET_FIELD_RE = /^(password|adminpass|adminpassword|secret|token|apikey|api_key)$/i;

/** One readable line from a zod error: the first issue, with its path. */
export function describeZodError(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return "invalid arguments";
  const path = issue.path
    .map((p, i) => (typeof p === "number" ? `[${p}]` : `${i === 0 ? "" : "."}${String(p)}`))
    .join("");
  const prefix = path ? `'${path}' ` : "";
  if (issue.code === "unrecognized_keys") {
    return `${path ? `'${path}': ` : ""}unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => `'${k}'`).join(", ")}`;
  }
  if (issue.code === "invalid_type" && /received undefined/.test(issue.message)) return `${prefix}is required`;
  if (issue.code === "invalid_union" && path === "module") return `'module' is required`;
  return `${prefix}${issue.message}`;
}
