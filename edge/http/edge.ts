import { randomUUID } from "node:crypto";
import { z } from "zod";
import { readCapped } from "../../lib/body";
import { AppError, httpStatus, isAppError } from "../../lib/errors";
import { authenticate, type Principal } from "../../services/auth";

/**
 * The one edge wrapper for REST route handlers: validate (zod) → authorize → call lib → map errors.
 * It uses only the web-standard Request/Response, so lib stays free of Next imports.
 */
export interface Ctx<P> {
  req: Request;
  principal: Principal;
  params: P;
}

/**
 * A failure the handler did not expect (a 500) goes to the log as one JSON line on stdout, like
 * server.ts's lines, under a request id the answer carries too: the client sees no internals, and
 * the operator can still find what happened from what the client reports.
 */
function logFailure(e: unknown, req: Request | undefined): string {
  const requestId = randomUUID();
  const url = req ? new URL(req.url) : undefined;
  const error = e instanceof Error ? e.message : String(e);
  const stack = e instanceof Error ? e.stack?.split("\n").slice(1, 6).map((l) => l.trim()) : undefined;
  process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), event: "route_error", requestId, method: req?.method, path: url?.pathname, error, stack })}\n`);
  return requestId;
}

function failure(status: number, kind: string, message: string, e: unknown, req: Request | undefined, extra: Record<string, unknown> = {}): Response {
  const requestId = logFailure(e, req);
  return Response.json({ error: { kind, message, ...extra, requestId } }, { status, headers: { "x-request-id": requestId } });
}

export function errorResponse(e: unknown, req?: Request): Response {
  if (isAppError(e)) {
    const status = e.status ?? ((e as { tooLarge?: boolean }).tooLarge ? 413 : httpStatus(e.kind));
    const body = { kind: e.kind, message: e.message, field: e.field, step: e.step };
    if (status >= 500 && (e.kind === "internal" || e.kind === "command")) return failure(status, e.kind, e.message, e, req, { field: e.field, step: e.step });
    return Response.json({ error: body }, { status });
  }
  if (e instanceof z.ZodError) {
    const issue = e.issues[0];
    const field = issue?.path.join(".");
    return Response.json({ error: { kind: "validation", message: `${field ? `${field}: ` : ""}${issue?.message}`, field } }, { status: 422 });
  }
  // Unknown failures never leak internals (paths, secrets) to the client.
  return failure(500, "internal", "internal error", e, req);
}

/** Largest JSON body any route accepts; reading stops with 413 at the first byte past it. */
export const MAX_JSON_BYTES = 1024 * 1024;

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;
const notJson = () => new AppError("validation", "send the body as JSON with Content-Type: application/json", { field: "body", status: 415 });

/**
 * The request's JSON body, parsed by `schema`. Only a body declared as JSON is parsed: a text/plain
 * one is what a cross-site HTML form or a no-preflight fetch can send. No body at all is `{}`.
 */
export async function jsonBody<T>(req: Request, schema: z.ZodType<T>): Promise<T> {
  const type = req.headers.get("content-type");
  if (type && !JSON_TYPE.test(type)) {
    await req.body?.cancel().catch(() => undefined);
    throw notJson();
  }
  const buf = await readCapped(req.body, MAX_JSON_BYTES, req.headers.get("content-length"));
  if (buf.length > 0 && !type) throw notJson();
  let raw: unknown;
  try {
    raw = buf.length ? JSON.parse(buf.toString("utf8")) : {};
  } catch {
    throw new AppError("validation", "body is not valid JSON", { field: "body" });
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw r.error;
  return r.data;
}

type Handler<P> = (ctx: Ctx<P>) => Promise<Response | unknown>;

/** Path parameters; a malformed percent-escape in the path (%E0%A4%A) is the client's error, not ours. */
async function pathParams<P>(params: Promise<P> | undefined): Promise<P> {
  try {
    return (await params) ?? ({} as P);
  } catch (e) {
    if (e instanceof URIError) throw new AppError("validation", "the path has a malformed percent-escape", { status: 400 });
    throw e;
  }
}

/**
 * Wrap a route handler. Every route is authenticated unless `public: true` (login, health probe);
 * mutations also pass the CSRF check inside authenticate().
 */
/** Marks handlers made by route(), so a test can prove every exported handler went through it. */
export const ROUTE_MARK = Symbol.for("moodle-dind.route");

export function route<P = Record<string, string>>(fn: Handler<P>, opts: { public?: boolean } = {}) {
  const handler = async (req: Request, context: { params: Promise<P> }): Promise<Response> => {
    try {
      const principal = opts.public ? ({ user: "anonymous", via: "none" } as Principal) : await authenticate(req);
      const params = await pathParams(context?.params);
      const out = await fn({ req, principal, params });
      return out instanceof Response ? out : Response.json(out ?? { ok: true });
    } catch (e) {
      return errorResponse(e, req);
    }
  };
  return Object.assign(handler, { [ROUTE_MARK]: { public: opts.public === true } });
}
