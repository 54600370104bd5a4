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
  /** A top-level field, or a path into arrays: "files[].data" (each item's data), "roles[]" (each item). */
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
  /** When the class depends on the arguments (file steps: moodledata is supported, the code tree unsafe). */
  classify?: (args: Record<string, unknown>) => StepClass;
  /** Known fields that are accepted but not applied here: each becomes a warning, never a silent drop. */
  notes?: (args: Record<string, unknown>) => string[];
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
/** Already normalised by the parser (see resourceFields); the schema only asserts the shape. */
const resource = z.custom<Record<string, unknown>>((v) => typeof v === "object" && v !== null && !Array.isArray(v), "must be a resource");
const landingPath = z
  .string()
  .max(2048)
  .regex(/^\/(?!\/)[^\s\\]*$/, "must be a site-relative path starting with a single '/'");
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

/** One file for addModule (Playground's shape): stored in the module's file area through Moodle's file API. */
const moduleFile = z.strictObject({
  filename: z.string().min(1).max(255).regex(/^[^/\\\u0000-\u001f]+$/, "must be a file name without folders"),
  data: resource,
  filearea: pluginName.optional(),
  itemid: z.number().int().min(0).max(1_000_000).optional(),
  filepath: z.string().max(255).regex(/^\/([^\u0000-\u001f\\\\]*\/)?$/, "must start and end with '/'").optional(),
});
/**
 * addModule for any installed activity module: the common fields are checked here; every other field is
 * passed through to the module (its own table columns and form fields), and the PHP side refuses a field
 * the module does not have, naming both. Values are plain JSON (no objects deeper than Moodle forms use).
 */
export const MODULE_FIELD_RE = /^[a-z][a-z0-9_]{0,63}$/;
const moduleValue: z.ZodType = z.union([
  z.string().max(1024 * KiB).regex(NO_NUL, "must not contain NUL"),
  z.number(),
  z.boolean(),
  z.null(),
  z.array(z.union([z.string().max(64 * KiB), z.number(), z.boolean()])).max(1000),
  z.record(z.string().max(100), z.union([z.string().max(1024 * KiB), z.number(), z.boolean(), z.null()])),
]);
const addModuleArgs = z
  .looseObject({
    module: pluginName,
    course: shortname,
    section: z.number().int().min(0).max(100).default(0),
    name: text(255).optional(),
    intro: html(64 * KiB).default(""),
    visible: z.union([z.boolean(), z.literal(0), z.literal(1)]).optional(),
    idnumber: idnumber.optional(),
    files: z.array(moduleFile).max(100).optional(),
  })
  .superRefine((a, ctx) => {
    for (const [k, v] of Object.entries(a)) {
      if (["module", "course", "section", "name", "intro", "visible", "idnumber", "files"].includes(k)) continue;
      if (!MODULE_FIELD_RE.test(k)) ctx.addIssue({ code: "custom", path: [k], message: `is not a field name a Moodle module can have` });
      else if (!moduleValue.safeParse(v).success) ctx.addIssue({ code: "custom", path: [k], message: "must be a string, number, boolean, null, list or flat object" });
    }
  });

const sectionArgs = z.strictObject({
  course: shortname,
  name: text(255).optional(),
  summary: html(64 * KiB).optional(),
  /** Playground's position: 0 appends; n inserts the new section at n. */
  position: z.number().int().min(0).max(100).default(0),
  visible: z.boolean().optional(),
});

// ---- roles, scales ----------------------------------------------------------------------------------

export const CAPABILITY_RE = /^[a-z0-9_]+\/[a-z0-9_]+:[a-z0-9_]+$/;
const CONTEXT_LEVELS = ["system", "user", "coursecat", "category", "course", "module", "block"] as const;
const contextLevel = z.union([z.enum(CONTEXT_LEVELS), z.literal(10), z.literal(30), z.literal(40), z.literal(50), z.literal(70), z.literal(80)]);
const roleRefs = z.array(roleShortname).max(100).optional();
const roleArgs = z.strictObject({
  shortname: roleShortname,
  name: text(255).optional(),
  description: html(64 * KiB).optional(),
  archetype: z.union([roleShortname, z.literal("")]).optional(),
  contextlevels: z.array(contextLevel).max(10).optional(),
  capabilities: z.record(z.string().regex(CAPABILITY_RE, "must be a capability such as moodle/course:update"), z.enum(["allow", "prevent", "prohibit", "inherit"])).optional(),
  resetToArchetype: z.boolean().optional(),
  allowAssign: roleRefs,
  allowOverride: roleRefs,
  allowSwitch: roleRefs,
  allowView: roleRefs,
});
const scaleItems = z.union([z.array(text(255)).min(1).max(100), text(64 * KiB)]);
const scaleArgs = z.strictObject({
  name: text(255),
  items: scaleItems,
  description: html(64 * KiB).optional(),
  /** A course shortname: the scale belongs to that course; without it the scale is site-wide. */
  course: shortname.optional(),
});
const scaleExport = z.strictObject({
  format: z.literal("moodle-scale-export").optional(),
  format_version: z.number().optional(),
  scales: z.array(scaleArgs).min(1).max(500),
});

/**
 * Inline JSON (an array, or an export envelope with `key`) stays in `key`; anything else is a resource
 * (an "@name", a descriptor) and moves to `data`, which the executor materialises for the PHP side.
 */
function inlineOrResource(key: string) {
  return (args: Record<string, unknown>): Record<string, unknown> => {
    const v = args[key];
    if (v === undefined || Array.isArray(v) || (typeof v === "object" && v !== null && key in v)) return args;
    const { [key]: ref, ...rest } = args;
    return { ...rest, data: ref };
  };
}

// ---- file steps -------------------------------------------------------------------------------------

/** Where a file step's path lands: the instance's moodledata, or its Moodle code tree. */
export type SiteRoot = "moodledata" | "code";
export interface SitePath {
  root: SiteRoot;
  rel: string;
}
/** Playground's own roots and the app container's, so blueprints written for either land in the same place. */
const ROOT_PREFIXES: [string, SiteRoot][] = [
  ["/persist/moodledata/", "moodledata"],
  ["/var/www/moodledata/", "moodledata"],
  ["/moodledata/", "moodledata"],
  ["/www/moodle/", "code"],
  ["/var/www/moodle/", "code"],
];
/** moodle-dind's own scratch folder in moodledata; a blueprint never touches it. */
const RESERVED_DATA_DIR = ".mdind-blueprint";

/**
 * A file step's path: "/persist/moodledata/..." (or /var/www/moodledata/...) is in moodledata,
 * "/www/moodle/..." (or /var/www/moodle/...) and a bare relative path are in the code tree. Any other
 * absolute path, "..", a backslash or a control character is refused; links are refused when the
 * step runs (lib/blueprint/files.ts walks without following them).
 */
export function parseSitePath(input: string): SitePath {
  let root: SiteRoot = "code";
  let rest = input;
  const hit = ROOT_PREFIXES.find(([prefix]) => input.startsWith(prefix) || input === prefix.slice(0, -1));
  if (hit) {
    root = hit[1];
    rest = input.slice(hit[0].length - 1).replace(/^\/+/, "");
  } else if (input.startsWith("/")) {
    throw new ValidationError(`path ${JSON.stringify(input)} is outside the site: use /persist/moodledata/… (moodledata) or /www/moodle/… (the code tree)`);
  }
  const rel = safeRelativePath(rest, "path");
  if (root === "moodledata" && (rel === RESERVED_DATA_DIR || rel.startsWith(`${RESERVED_DATA_DIR}/`))) {
    throw new ValidationError(`path ${JSON.stringify(input)} is moodle-dind's own scratch folder`);
  }
  return { root, rel };
}

const sitePath = z
  .string()
  .max(4096)
  .transform((p, ctx) => {
    try {
      const sp = parseSitePath(p);
      return `${sp.root === "code" ? "/www/moodle" : "/persist/moodledata"}/${sp.rel}`;
    } catch (e) {
      ctx.addIssue({ code: "custom", message: (e as Error).message });
      return z.NEVER;
    }
  });

/** A file step is unsafe when any of its paths is in the code tree (a PHP file there runs as the site). */
function fileStepClass(...fields: string[]) {
  return (args: Record<string, unknown>): StepClass => {
    const paths: unknown[] = [];
    for (const f of fields) {
      if (f === "files[].path") paths.push(...(Array.isArray(args.files) ? args.files.map((x) => (x as { path?: unknown })?.path) : []));
      else paths.push(args[f]);
    }
    return paths.some((p) => typeof p === "string" && !p.startsWith("/persist/moodledata/")) ? "unsafe" : "supported";
  };
}

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

/** importRoles items: XML text, an "@name", a descriptor, or Playground's { xml: "..." }. */
function xmlItem(v: unknown): unknown {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.keys(v).length === 1 && "xml" in v ? { literal: (v as { xml: unknown }).xml } : v;
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
    resourceFields: [{ field: "files[].data", plainString: "url" }],
    schema: addModuleArgs,
  },
  { name: "createSection", class: "supported", schema: sectionArgs },
  { name: "createSections", class: "supported", schema: batch("sections", sectionArgs, 500) },
  { name: "createRole", class: "supported", schema: roleArgs },
  {
    name: "createRoles",
    class: "supported",
    prepare: inlineOrResource("roles"),
    resourceFields: [{ field: "data", plainString: "url" }],
    schema: z
      .strictObject({ roles: z.union([z.array(roleArgs).min(1).max(200), z.strictObject({ roles: z.array(roleArgs).min(1).max(200) })]).optional(), data: resource.optional() })
      .refine((a) => (a.roles === undefined) !== (a.data === undefined), "needs 'roles': a list of roles or a resource holding one"),
  },
  {
    name: "importRoles",
    class: "supported",
    prepare: (args) => (Array.isArray(args.roles) ? { ...args, roles: args.roles.map(xmlItem) } : args),
    resourceFields: [{ field: "roles[]", plainString: "literal" }],
    schema: z.strictObject({ roles: z.array(resource).min(1, "must not be empty").max(200) }),
  },
  {
    name: "importRolePreset",
    class: "supported",
    prepare: (args) => {
      const { xml, resource: res, ...rest } = args;
      if ((xml === undefined) === (res === undefined)) throw new ValidationError("give either 'xml' or 'resource'");
      return { ...rest, roles: [xml !== undefined ? xmlItem(xml) : res] };
    },
    resourceFields: [{ field: "roles[]", plainString: "literal" }],
    schema: z.strictObject({ roles: z.array(resource).length(1) }),
  },
  { name: "createScale", class: "supported", schema: scaleArgs },
  {
    name: "createScales",
    class: "supported",
    prepare: inlineOrResource("scales"),
    resourceFields: [{ field: "data", plainString: "url" }],
    schema: z
      .strictObject({ scales: z.union([z.array(scaleArgs).min(1).max(500), scaleExport]).optional(), data: resource.optional() })
      .refine((a) => (a.scales === undefined) !== (a.data === undefined), "needs 'scales': a list, a moodle-scale-export object, or a resource holding one"),
  },
  { name: "purgeMoodleCaches", class: "supported", schema: z.strictObject({}) },
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

  {
    // The instance is installed by moodle-dind already; the site settings among the options are applied.
    name: "installMoodle",
    class: "supported",
    schema: z.strictObject({
      options: z
        .strictObject({
          siteName: text(254).optional(),
          adminUser: username.optional(),
          adminPass: z.string().max(256).optional(),
          adminEmail: z.string().max(100).optional(),
          locale: z.string().max(30).regex(PLUGIN_NAME_RE, "must be a language code such as en or es_mx").optional(),
          timezone: z.string().max(100).regex(/^[A-Za-z0-9_+\/-]+$/, "must be a timezone such as UTC or Europe/Madrid").optional(),
        })
        .default({}),
    }),
    notes: (args) => {
      const o = (args.options ?? {}) as Record<string, unknown>;
      const skipped = ["adminUser", "adminPass", "adminEmail"].filter((k) => o[k] !== undefined);
      return skipped.length
        ? [`installMoodle: ${skipped.join(", ")} not applied: the instance keeps the admin account moodle-dind made (see its info); use setAdminAccount to change it`]
        : [];
    },
  },
  /** The dashboard and moodle-dind's links log users in; a blueprint has no browser session to log into. */
  { name: "login", class: "noop", schema: z.strictObject({ username: username.optional(), password: z.string().max(256).optional() }) },
  /** Recorded as the landingPage hint by the parser; nothing runs. */
  { name: "setLandingPage", class: "noop", schema: z.strictObject({ path: landingPath }) },
  {
    name: "request",
    class: "supported",
    schema: z.strictObject({
      url: z.string().max(4096).default("/"),
      method: z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]).default("GET"),
      headers: z.record(z.string().regex(/^[A-Za-z0-9-]{1,100}$/, "must be a header name"), z.string().max(8192).regex(NO_CONTROL, "must be one line")).default({}),
      body: z.string().max(1024 * KiB).optional(),
      expectOk: z.boolean().default(true),
    }),
  },

  { name: "runPhpCode", class: "unsafe", schema: z.strictObject({ code: z.string().min(1).max(1024 * KiB) }) },
  { name: "runPhpScript", class: "unsafe", schema: z.strictObject({ code: z.string().min(1).max(1024 * KiB), expectOk: z.boolean().default(true) }) },
  {
    name: "writeFile",
    class: "supported",
    classify: fileStepClass("path"),
    resourceFields: [{ field: "data", plainString: "literal" }],
    schema: z.strictObject({ path: sitePath, data: resource }),
  },
  {
    name: "writeFiles",
    class: "supported",
    classify: fileStepClass("files[].path"),
    resourceFields: [{ field: "files[].data", plainString: "literal" }],
    schema: batch("files", z.strictObject({ path: sitePath, data: resource }), 1000),
  },
  { name: "mkdir", class: "supported", classify: fileStepClass("path"), schema: z.strictObject({ path: sitePath }) },
  { name: "rmdir", class: "supported", classify: fileStepClass("path"), schema: z.strictObject({ path: sitePath, recursive: z.boolean().default(false) }) },
  { name: "copyFile", class: "supported", classify: fileStepClass("from", "to"), schema: z.strictObject({ from: sitePath, to: sitePath }) },
  { name: "moveFile", class: "supported", classify: fileStepClass("from", "to"), schema: z.strictObject({ from: sitePath, to: sitePath }) },
  { name: "deleteFile", class: "supported", classify: fileStepClass("path"), schema: z.strictObject({ path: sitePath }) },
  {
    name: "unzip",
    class: "supported",
    classify: fileStepClass("destination"),
    // WordPress Playground spelled these zipFile / extractToPath; Moodle Playground accepts path for destination.
    prepare: renameFields({ zipFile: "data", extractToPath: "destination", path: "destination" }),
    resourceFields: [{ field: "data", plainString: "refuse" }],
    schema: z.strictObject({ data: resource, destination: sitePath }),
  },

  // Need the internet (download.moodle.org, GitHub) or Playground's own runtime; see docs/blueprints.md.
  ...[
    "installLanguagePack",
    "setConfigFile",
    "setConfigFiles",
    "deleteFiles",
    "applyPrOverlay",
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
