import { AppError, ValidationError } from "../errors";
import { blueprintHash } from "./hash";
import type { ParsedBlueprint, ParsedStep } from "./parse";
import type { ResourceResolver } from "./resources";
import { SECRET_FIELD_RE } from "./steps";

/**
 * Runs a parsed blueprint step by step against an executor. Nothing here knows about Moodle or Docker:
 * the executor does the work (typically by piping the step as JSON into the PHP step script inside the
 * Moodle container), this module does ordering, error policy, progress, redaction and the applied marker.
 */

export interface StepContext {
  index: number;
  total: number;
  /** Resolver for the step's resource fields (the executor materialises them, e.g. into the container). */
  resources?: ResourceResolver;
  signal?: AbortSignal;
}

export interface StepOutcome {
  changed: boolean;
  detail?: string;
}

export interface StepExecutor {
  runStep(step: ParsedStep, ctx: StepContext): Promise<StepOutcome>;
}

/** Remembers which blueprint (by hash) was last applied completely to a site. */
export interface MarkerStore {
  get(): Promise<string | null>;
  set(hash: string): Promise<void>;
}

export type StepStatus = "running" | "done" | "skipped" | "failed";

export interface ProgressEvent {
  index: number;
  total: number;
  name: string;
  status: StepStatus;
  changed?: boolean;
  detail?: string;
  error?: string;
  /** The step's arguments with secrets redacted, safe to log. */
  step: Record<string, unknown>;
}

export interface RunOptions {
  /** "abort" (default) stops at the first failure; "warn" reports it and carries on (critical steps still abort). */
  onError?: "abort" | "warn";
  onProgress?: (ev: ProgressEvent) => void;
  /** Re-run even when the marker says this exact blueprint was already applied. */
  force?: boolean;
  marker?: MarkerStore;
  resources?: ResourceResolver;
  signal?: AbortSignal;
}

export interface StepReport {
  index: number;
  name: string;
  status: Exclude<StepStatus, "running">;
  changed: boolean;
  detail?: string;
  error?: string;
}

export interface RunResult {
  /**
   * applied:   every step ran (or was a no-op) and the marker was set
   * unchanged: the marker already held this hash; nothing ran
   * partial:   onError "warn" and some steps failed; the marker was not set, so the next run retries
   * failed:    stopped at a failing step
   */
  status: "applied" | "unchanged" | "partial" | "failed";
  hash: string;
  changed: boolean;
  steps: StepReport[];
  /** The first failure, when there was one. */
  error?: AppError;
}

const REDACTED = "********";
const BULK_FIELDS = new Set(["base64", "data-url", "literal", "code"]);

/**
 * A copy of a step that is safe to log: secret fields (passwords, tokens) replaced, and bulky inline
 * content (base64, PHP code) shortened to its size, at any depth (createUsers[].password included).
 */
export function redactStep(step: ParsedStep | Record<string, unknown>): Record<string, unknown> {
  const source: Record<string, unknown> =
    "args" in step && "name" in step && typeof step.name === "string" && typeof step.args === "object" && step.args !== null
      ? { step: step.name, ...(step.args as Record<string, unknown>) }
      : (step as Record<string, unknown>);
  const walk = (v: unknown, key: string | null, depth: number): unknown => {
    if (key !== null && SECRET_FIELD_RE.test(key) && v !== undefined && v !== null && v !== "") return REDACTED;
    if (key !== null && BULK_FIELDS.has(key) && typeof v === "string" && v.length > 120) return `<${v.length} characters>`;
    if (depth > 32) return "…";
    if (Array.isArray(v)) return v.map((item) => walk(item, null, depth + 1));
    if (typeof v === "object" && v !== null) {
      const out: Record<string, unknown> = {};
      for (const [k, item] of Object.entries(v)) out[k] = walk(item, k, depth + 1);
      return out;
    }
    return v;
  };
  return walk(source, null, 0) as Record<string, unknown>;
}

/** Every secret value in the blueprint, so they can be scrubbed from executor messages too. */
function collectSecrets(steps: ParsedStep[]): string[] {
  const out = new Set<string>();
  const walk = (v: unknown, key: string | null) => {
    if (key !== null && SECRET_FIELD_RE.test(key) && typeof v === "string" && v.length >= 3) out.add(v);
    if (Array.isArray(v)) v.forEach((item) => walk(item, null));
    else if (typeof v === "object" && v !== null) for (const [k, item] of Object.entries(v)) walk(item, k);
  };
  steps.forEach((s) => walk(s.args, null));
  // Longest first, so a secret that contains another is replaced whole.
  return [...out].sort((a, b) => b.length - a.length);
}

function scrub(text: string | undefined, secrets: string[]): string | undefined {
  if (text === undefined) return undefined;
  let t = text;
  for (const s of secrets) t = t.split(s).join(REDACTED);
  return t;
}

export async function runBlueprint(parsed: ParsedBlueprint, executor: StepExecutor, opts: RunOptions = {}): Promise<RunResult> {
  const onError = opts.onError ?? "abort";
  if (onError !== "abort" && onError !== "warn") throw new ValidationError(`onError must be 'abort' or 'warn'`, "onError");
  const hash = blueprintHash(parsed);
  const total = parsed.steps.length;
  const steps: StepReport[] = [];

  if (opts.marker && !opts.force) {
    const applied = await opts.marker.get();
    if (applied === hash) return { status: "unchanged", hash, changed: false, steps };
  }

  const secrets = collectSecrets(parsed.steps);
  const emit = (ev: Omit<ProgressEvent, "total" | "step">, step: ParsedStep) => {
    if (!opts.onProgress) return;
    try {
      opts.onProgress({ ...ev, detail: scrub(ev.detail, secrets), error: scrub(ev.error, secrets), total, step: redactStep(step) });
    } catch {
      // A broken progress listener (closed socket, full log) must not change the outcome of the run.
    }
  };

  let firstError: AppError | undefined;
  let stopped = false;
  let changed = false;
  for (const step of parsed.steps) {
    if (opts.signal?.aborted) {
      firstError ??= new AppError("internal", "blueprint run was cancelled", { step: step.name });
      stopped = true;
      break;
    }
    const base = { index: step.index, name: step.name };
    if (step.class === "noop") {
      steps.push({ ...base, status: "skipped", changed: false, detail: "nothing to do here" });
      emit({ ...base, status: "skipped", detail: "nothing to do here" }, step);
      continue;
    }
    if (step.class === "unsafe" && !parsed.policy.allowUnsafe) {
      // parseBlueprint refuses these already; this guards ParsedBlueprints assembled by hand.
      const err = new ValidationError(`step ${step.index + 1} (${step.name}): unsafe steps are not allowed`);
      steps.push({ ...base, status: "failed", changed: false, error: err.message });
      emit({ ...base, status: "failed", error: err.message }, step);
      firstError ??= err;
      stopped = true;
      break;
    }
    emit({ ...base, status: "running" }, step);
    try {
      const out = await executor.runStep(step, { index: step.index, total, resources: opts.resources, signal: opts.signal });
      const detail = scrub(out?.detail, secrets);
      changed ||= out?.changed === true;
      steps.push({ ...base, status: "done", changed: out?.changed === true, detail });
      emit({ ...base, status: "done", changed: out?.changed === true, detail }, step);
    } catch (e) {
      const message = scrub(`step ${step.index + 1} (${step.name}): ${(e as Error)?.message ?? String(e)}`, secrets) ?? "";
      const err =
        e instanceof AppError
          ? new AppError(e.kind, message, { field: e.field, step: step.name, cause: e })
          : new AppError("internal", message, { step: step.name, cause: e });
      steps.push({ ...base, status: "failed", changed: false, error: message });
      emit({ ...base, status: "failed", error: message }, step);
      firstError ??= err;
      if (onError === "abort" || step.critical) {
        stopped = true;
        break;
      }
    }
  }

  if (firstError) {
    return { status: stopped ? "failed" : "partial", hash, changed, steps, error: firstError };
  }
  if (opts.marker) await opts.marker.set(hash);
  return { status: "applied", hash, changed, steps };
}
