import type { z } from "zod";
import { ValidationError } from "../errors";
import { isJsonObject, parseJson, toJsonValue, type JsonObject, type JsonValue } from "./json";
import { resolvePolicy, type BlueprintPolicy } from "./policy";
import { normaliseResource, type ResourceDescriptor } from "./resources";
import { describeZodError, getStepDefinition, type StepClass } from "./steps";

export interface ParsedStep {
  /** 0-based position in `steps`. Messages say "step N" with N = index + 1. */
  index: number;
  name: string;
  class: Exclude<StepClass, "unimplemented">;
  /** Validated arguments with defaults applied and resources inlined as descriptors. */
  args: Record<string, unknown>;
  /** Moodle Playground's per-step flag: a failure aborts the run even in "warn" mode. */
  critical: boolean;
}

export interface BlueprintHints {
  /** e.g. { php: "8.3", moodle: "5.0" }; the caller decides whether it can honour them. */
  preferredVersions?: Record<string, string>;
  landingPage?: string;
}

export interface ParsedBlueprint {
  /**
   * The blueprint as we will run it: constants substituted, "@name" references replaced by descriptors,
   * step arguments with defaults, and the then-redundant `constants` and `resources` dropped. Unknown
   * top-level fields are kept. Parsing it again yields itself. This is what blueprintHash hashes.
   */
  normalized: JsonObject;
  steps: ParsedStep[];
  hints: BlueprintHints;
  resources: Record<string, ResourceDescriptor>;
  /** The policy the blueprint was checked against; the runner and resolver apply the same one. */
  policy: BlueprintPolicy;
  /**
   * Fields that are read but not applied (unknown step fields, Playground-only top-level fields, install
   * options moodle-dind manages): each is named here and reported with the run, never silently dropped.
   */
  warnings: string[];
}

export interface ParseOptions {
  policy?: Partial<BlueprintPolicy>;
  /** Used in messages ("demo/blueprint.json: step 3: …"). */
  source?: string;
}

const CONSTANT_RE = /\{\{\s*([A-Za-z0-9_]+)\s*\}\}/g;
const CONSTANT_KEY_RE = /^[A-Za-z0-9_]+$/;
const STEP_META_FIELDS = new Set(["step", "critical"]);
/** Top-level fields with a meaning here; others are kept in the normalised form and warned about. */
const KNOWN_TOP_FIELDS = new Set(["$schema", "preferredVersions", "landingPage", "constants", "resources", "steps", "runtime", "meta"]);

/** Parse and validate a blueprint. Throws only ValidationError. */
export function parseBlueprint(input: string | unknown, opts: ParseOptions = {}): ParsedBlueprint {
  const prefix = opts.source ? `${opts.source}: ` : "";
  try {
    return parseInner(input, opts);
  } catch (e) {
    if (e instanceof ValidationError) {
      if (!prefix) throw e;
      throw new ValidationError(`${prefix}${e.message}`, e.field);
    }
    // Anything else is a bug in this module, but callers were promised ValidationError for bad input.
    throw new ValidationError(`${prefix}blueprint could not be read: ${(e as Error)?.message ?? String(e)}`);
  }
}

function parseInner(input: unknown, opts: ParseOptions): ParsedBlueprint {
  const policy = resolvePolicy(opts.policy);
  let doc: JsonValue;
  if (typeof input === "string") {
    if (Buffer.byteLength(input) > policy.maxBlueprintBytes) {
      throw new ValidationError(`blueprint is larger than the ${policy.maxBlueprintBytes}-byte limit`);
    }
    doc = parseJson(input, { what: "blueprint JSON" });
  } else {
    doc = toJsonValue(input, { path: "blueprint" });
  }
  if (!isJsonObject(doc)) throw new ValidationError("blueprint must be a JSON object");

  const constants = readConstants(doc.constants);
  const subst = (v: JsonValue, where: string): JsonValue => substitute(v, constants, where);

  // Resources first, so steps can refer to them; their strings may use constants too.
  const resources: Record<string, ResourceDescriptor> = {};
  if (doc.resources !== undefined) {
    if (!isJsonObject(doc.resources)) throw new ValidationError("'resources' must be an object of name → descriptor", "resources");
    for (const [name, raw] of Object.entries(doc.resources)) {
      if (!/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
        throw new ValidationError(`resource name '${name}' may only contain letters, digits and _ . -`, "resources");
      }
      const where = `resources.${name}`;
      if (typeof raw === "string") throw new ValidationError(`${where}: a named resource must be a descriptor object, not a string`, "resources");
      resources[name] = normaliseResource(subst(raw, where), { resources: {}, policy, where, plainString: "refuse" });
    }
  }

  if (!Array.isArray(doc.steps)) {
    throw new ValidationError(doc.steps === undefined ? "blueprint has no 'steps' array" : "'steps' must be an array", "steps");
  }
  if (doc.steps.length > policy.maxSteps) throw new ValidationError(`blueprint has ${doc.steps.length} steps; the limit is ${policy.maxSteps}`, "steps");

  const warnings: string[] = [];
  for (const k of Object.keys(doc)) {
    if (!KNOWN_TOP_FIELDS.has(k)) warnings.push(`top-level field '${k.slice(0, 100)}' is not a blueprint field; ignored`);
  }
  if (doc.runtime !== undefined) {
    // Playground writes these into config.php at boot; here the site is already running with its own.
    warnings.push("'runtime' is not applied (moodle-dind sets the site's config.php); use a setConfig step for debug/debugdisplay");
  }
  const hints: BlueprintHints = {};
  if (doc.preferredVersions !== undefined) {
    const pv = subst(doc.preferredVersions, "preferredVersions");
    if (!isJsonObject(pv)) throw new ValidationError("'preferredVersions' must be an object such as {\"php\": \"8.3\", \"moodle\": \"5.0\"}", "preferredVersions");
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(pv)) {
      if (typeof v !== "string" && typeof v !== "number") throw new ValidationError(`preferredVersions.${k} must be a version string`, "preferredVersions");
      const s = String(v);
      if (!/^[A-Za-z0-9._-]{1,40}$/.test(s)) throw new ValidationError(`preferredVersions.${k} '${s}' is not a version`, "preferredVersions");
      out[k] = s;
    }
    hints.preferredVersions = out;
  }
  if (doc.landingPage !== undefined) hints.landingPage = checkLandingPage(subst(doc.landingPage, "landingPage"));

  const steps: ParsedStep[] = [];
  const normalizedSteps: JsonValue[] = [];
  doc.steps.forEach((raw, index) => {
    const parsed = parseStep(raw, index, { resources, policy, subst, warnings });
    steps.push(parsed);
    const normalizedStep: JsonObject = { step: parsed.name, ...(parsed.args as JsonObject) };
    if (parsed.critical) normalizedStep.critical = true;
    normalizedSteps.push(toJsonValue(normalizedStep));
    if (parsed.name === "setLandingPage") hints.landingPage = parsed.args.path as string;
  });

  // constants and resources are fully applied to the steps, so they are left out: the normalised form is
  // self-contained (it parses again to itself) and its hash depends only on what will actually run.
  const normalized: JsonObject = {};
  for (const [k, v] of Object.entries(doc)) {
    if (k === "constants" || k === "resources") continue;
    Object.defineProperty(normalized, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  normalized.steps = normalizedSteps;
  if (hints.preferredVersions) normalized.preferredVersions = hints.preferredVersions;
  if (doc.landingPage !== undefined && hints.landingPage !== undefined) normalized.landingPage = subst(doc.landingPage, "landingPage");

  return { normalized, steps, hints, resources, policy, warnings };
}

function readConstants(raw: JsonValue | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (raw === undefined) return out;
  if (!isJsonObject(raw)) throw new ValidationError("'constants' must be an object of NAME → value", "constants");
  for (const [k, v] of Object.entries(raw)) {
    if (!CONSTANT_KEY_RE.test(k)) throw new ValidationError(`constant name '${k}' may only contain letters, digits and _`, "constants");
    if (typeof v !== "string" && typeof v !== "number" && typeof v !== "boolean") {
      throw new ValidationError(`constant '${k}' must be a string, number or boolean`, "constants");
    }
    out.set(k, String(v));
  }
  return out;
}

/**
 * Replace {{KEY}} in every string, recursively. A single pass: a constant's value is not itself
 * expanded, so constants cannot loop. An unknown key is an error rather than left in place, because
 * "{{ADMIN_PASWORD}}" silently becoming a literal password is worse than refusing the blueprint.
 */
function substitute(v: JsonValue, constants: Map<string, string>, where: string): JsonValue {
  if (typeof v === "string") {
    if (!v.includes("{{")) return v;
    return v.replace(CONSTANT_RE, (_m, key: string) => {
      const value = constants.get(key);
      if (value === undefined) {
        throw new ValidationError(
          `${where}: unknown constant '{{${key}}}'` + (constants.size ? ` (defined: ${[...constants.keys()].join(", ")})` : " (the blueprint defines no constants)"),
        );
      }
      return value;
    });
  }
  if (Array.isArray(v)) return v.map((item) => substitute(item, constants, where));
  if (isJsonObject(v)) {
    const out: JsonObject = {};
    for (const [k, item] of Object.entries(v)) {
      Object.defineProperty(out, k, { value: substitute(item, constants, where), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

function checkLandingPage(v: JsonValue): string {
  if (typeof v !== "string" || !/^\/(?!\/)[^\s\\]*$/.test(v) || v.length > 2048) {
    // A landing page is used as a redirect target; only same-site paths, never "//host" or a full URL.
    throw new ValidationError("'landingPage' must be a site-relative path starting with a single '/'", "landingPage");
  }
  return v;
}

function parseStep(
  raw: JsonValue,
  index: number,
  ctx: { resources: Record<string, ResourceDescriptor>; policy: BlueprintPolicy; subst: (v: JsonValue, where: string) => JsonValue; warnings: string[] },
): ParsedStep {
  const field = `steps[${index}]`;
  const label = `step ${index + 1}`;
  if (!isJsonObject(raw)) throw new ValidationError(`${label}: must be an object with a 'step' name`, field);
  const name = raw.step;
  if (typeof name !== "string" || name.trim() === "") throw new ValidationError(`${label}: needs a non-empty string 'step'`, field);
  const def = getStepDefinition(name);
  if (!def) throw new ValidationError(`${label}: unknown step '${name.slice(0, 100)}'`, field);
  const where = `${label} (${name})`;
  if (def.class === "unimplemented") {
    throw new ValidationError(`${where}: '${name}' is a Moodle Playground step that moodle-dind does not implement yet`, field);
  }
  if (raw.critical !== undefined && typeof raw.critical !== "boolean") throw new ValidationError(`${where}: 'critical' must be true or false`, field);

  const substituted = ctx.subst(raw, where) as JsonObject;
  let args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(substituted)) {
    if (!STEP_META_FIELDS.has(k)) Object.defineProperty(args, k, { value: v, enumerable: true, writable: true, configurable: true });
  }
  try {
    if (def.prepare) args = def.prepare(args);
    for (const rf of def.resourceFields ?? []) {
      args = mapResourceField(args, rf.field, (v, at) =>
        normaliseResource(v, { resources: ctx.resources, policy: ctx.policy, where: `'${at}'`, plainString: rf.plainString }),
      ) as Record<string, unknown>;
    }
  } catch (e) {
    if (e instanceof ValidationError) throw new ValidationError(`${where}: ${e.message}`, field);
    throw e;
  }
  if (def.schema) args = checkArgs(def.schema, args, where, field, ctx.warnings);
  const cls = def.classify ? def.classify(args) : def.class;
  if (cls === "unsafe" && !ctx.policy.allowUnsafe) {
    throw new ValidationError(
      `${where}: '${name}' runs arbitrary code or writes into the Moodle code tree and is refused unless unsafe steps are allowed (policy.allowUnsafe)`,
      field,
    );
  }
  for (const note of def.notes?.(args) ?? []) ctx.warnings.push(`${where}: ${note}`);
  return { index, name, class: cls as ParsedStep["class"], args, critical: raw.critical === true };
}

/**
 * Validate step arguments. A field the step does not know is not an error (Playground adds fields
 * over time and blueprints carry them): it is taken out, named in a warning, and the rest checked again.
 */
function checkArgs(schema: z.ZodType, input: Record<string, unknown>, where: string, field: string, warnings: string[]): Record<string, unknown> {
  const args = structuredClone(input);
  for (let round = 0; round < 50; round++) {
    const r = schema.safeParse(args);
    if (r.success) return r.data as Record<string, unknown>;
    const unknown = r.error.issues.filter((i) => i.code === "unrecognized_keys");
    if (unknown.length === 0) throw new ValidationError(`${where}: ${describeZodError(r.error)}`, field);
    for (const issue of unknown) {
      let target: unknown = args;
      for (const p of issue.path) target = (target as Record<string | number, unknown>)?.[p as string | number];
      if (typeof target !== "object" || target === null) throw new ValidationError(`${where}: ${describeZodError(r.error)}`, field);
      const at = issue.path.map((p) => (typeof p === "number" ? `[${p}]` : `.${String(p)}`)).join("").replace(/^\./, "");
      for (const k of (issue as { keys: string[] }).keys) {
        delete (target as Record<string, unknown>)[k];
        warnings.push(`${where}: unknown field '${at ? `${at}.` : ""}${k}' ignored`);
      }
    }
  }
  throw new ValidationError(`${where}: too many unknown fields`, field);
}

/** Apply fn to the value(s) at a resource field path: "data", "roles[]" or "files[].data". */
export function mapResourceField(args: unknown, spec: string, fn: (v: unknown, at: string) => unknown, at = ""): unknown {
  const m = /^([A-Za-z0-9_]+)(\[\])?(?:\.(.+))?$/.exec(spec);
  if (!m || typeof args !== "object" || args === null || Array.isArray(args)) return args;
  const [, key, each, rest] = m;
  const obj = args as Record<string, unknown>;
  const value = obj[key];
  if (value === undefined) return args;
  const here = at ? `${at}.${key}` : key;
  const apply = (v: unknown, label: string) => (rest ? mapResourceField(v, rest, fn, label) : fn(v, label));
  let next: unknown;
  if (each) {
    if (!Array.isArray(value)) return args;
    next = value.map((item, i) => apply(item, `${here}[${i}]`));
  } else next = apply(value, here);
  return { ...obj, [key]: next };
}
