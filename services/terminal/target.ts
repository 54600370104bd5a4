import { z } from "zod";
import { nameSchema } from "../../lib/names";
import { SERVICES, type Service } from "../../instances/stack";
import { ValidationError } from "../../lib/errors";

/**
 * What a terminal connects to, parsed from the WebSocket URL's query. Everything here is checked
 * against allowlists before anything is started: the instance name against the same rule that
 * created it, the service against SERVICES, sizes against fixed bounds. Unknown keys are refused so
 * a typo or a probe never silently means something else.
 */
export const MAX_COLS = 500;
export const MAX_ROWS = 200;
export const DEFAULT_COLS = 80;
export const DEFAULT_ROWS = 24;

/** Server-generated session ids: 16 random bytes, base64url. */
export const SESSION_ID_RE = /^[A-Za-z0-9_-]{22}$/;

export type TerminalTarget = { kind: "host" } | { kind: "container"; instance: string; service: Service };

export interface TerminalRequest {
  target: TerminalTarget;
  cols: number;
  rows: number;
  /** Present when the client asks to re-attach to a session it had. */
  session?: string;
}

const intParam = (max: number, field: string) =>
  z
    .string()
    .regex(/^[0-9]{1,4}$/, `${field} must be a whole number`)
    .transform((s) => Number.parseInt(s, 10))
    .pipe(z.number().int().min(1, `${field} must be at least 1`).max(max, `${field} must be at most ${max}`));

const querySchema = z
  .object({
    target: z.literal("host").optional(),
    instance: nameSchema.optional(),
    service: z.enum(SERVICES, { error: `service must be one of ${SERVICES.join(", ")}` }).optional(),
    cols: intParam(MAX_COLS, "cols").optional(),
    rows: intParam(MAX_ROWS, "rows").optional(),
    session: z.string().regex(SESSION_ID_RE, "session is not a session id").optional(),
  })
  .strict();

/**
 * Parse a terminal request from URL search params. Throws ValidationError naming the bad field.
 * Repeated keys are refused: `?service=app&service=db` has no single honest meaning.
 */
export function parseTerminalQuery(params: URLSearchParams): TerminalRequest {
  const raw: Record<string, string> = {};
  for (const [k, v] of params) {
    if (k in raw) throw new ValidationError(`${k} is given more than once`, k);
    raw[k] = v;
  }
  const r = querySchema.safeParse(raw);
  if (!r.success) {
    const issue = r.error.issues[0];
    const field = issue?.path.join(".") || (issue?.code === "unrecognized_keys" ? "query" : undefined);
    const msg = issue?.code === "unrecognized_keys" ? `unknown parameter(s): ${issue.keys.map((k) => k.slice(0, 20)).join(", ")}` : issue?.message;
    throw new ValidationError(`${field ? `${field}: ` : ""}${msg ?? "invalid request"}`, field);
  }
  const q = r.data;
  let target: TerminalTarget;
  if (q.target === "host") {
    if (q.instance !== undefined || q.service !== undefined) {
      throw new ValidationError("target=host takes no instance or service", "target");
    }
    target = { kind: "host" };
  } else {
    if (q.instance === undefined) throw new ValidationError("instance is required (or target=host)", "instance");
    if (q.service === undefined) throw new ValidationError(`service is required: one of ${SERVICES.join(", ")}`, "service");
    target = { kind: "container", instance: q.instance, service: q.service };
  }
  return { target, cols: q.cols ?? DEFAULT_COLS, rows: q.rows ?? DEFAULT_ROWS, session: q.session };
}

/** Resize messages from a live client are clamped rather than refused: a huge window is not an attack. */
export function clampSize(cols: unknown, rows: unknown): { cols: number; rows: number } | null {
  if (typeof cols !== "number" || typeof rows !== "number" || !Number.isFinite(cols) || !Number.isFinite(rows)) return null;
  const c = Math.min(MAX_COLS, Math.max(1, Math.floor(cols)));
  const r = Math.min(MAX_ROWS, Math.max(1, Math.floor(rows)));
  return { cols: c, rows: r };
}

export function targetLabel(t: TerminalTarget): string {
  return t.kind === "host" ? "host" : `${t.instance}/${t.service}`;
}

export function sameTarget(a: TerminalTarget, b: TerminalTarget): boolean {
  if (a.kind === "host" || b.kind === "host") return a.kind === b.kind;
  return a.instance === b.instance && a.service === b.service;
}

/** The host shell is a root shell on the machine: only where that machine is the DinD host, or when asked for. */
export function hostShellPolicy(): { enabled: boolean; reason: string } {
  if (process.env.MDIND_HOST_SHELL === "1") return { enabled: true, reason: "enabled by MDIND_HOST_SHELL=1" };
  if (process.env.MDIND_IN_HOST === "1") return { enabled: true, reason: "running inside the DinD host" };
  return {
    enabled: false,
    reason:
      "The host shell is off: the dashboard is not running inside the DinD host, so it would be a shell on your own machine as the dashboard's user. Set MDIND_HOST_SHELL=1 to allow it.",
  };
}
