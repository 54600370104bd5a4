import { z } from "zod";
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

export function errorResponse(e: unknown): Response {
  if (isAppError(e)) {
    return Response.json(
      { error: { kind: e.kind, message: e.message, field: e.field, step: e.step } },
      { status: httpStatus(e.kind) },
    );
  }
  if (e instanceof z.ZodError) {
    const issue = e.issues[0];
    const field = issue?.path.join(".");
    return Response.json({ error: { kind: "validation", message: `${field ? `${field}: ` : ""}${issue?.message}`, field } }, { status: 422 });
  }
  // Unknown failures never leak internals (paths, secrets) to the client.
  return Response.json({ error: { kind: "internal", message: "internal error" } }, { status: 500 });
}

/** Largest JSON body any route accepts; bigger bodies get 413 before parsing. */
export const MAX_JSON_BYTES = 1024 * 1024;

export async function jsonBody<T>(req: Request, schema: z.ZodType<T>): Promise<T> {
  const len = Number(req.headers.get("content-length") ?? "0");
  if (len > MAX_JSON_BYTES) throw new AppError("validation", "request body too large", { field: "body" });
  const text = await req.text();
  if (text.length > MAX_JSON_BYTES) throw new AppError("validation", "request body too large", { field: "body" });
  let raw: unknown;
  try {
    raw = text ? JSON.parse(text) : {};
  } catch {
    throw new AppError("validation", "body is not valid JSON", { field: "body" });
  }
  const r = schema.safeParse(raw);
  if (!r.success) throw r.error;
  return r.data;
}

type Handler<P> = (ctx: Ctx<P>) => Promise<Response | unknown>;

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
      const params = (await context?.params) ?? ({} as P);
      const out = await fn({ req, principal, params });
      return out instanceof Response ? out : Response.json(out ?? { ok: true });
    } catch (e) {
      return errorResponse(e);
    }
  };
  return Object.assign(handler, { [ROUTE_MARK]: { public: opts.public === true } });
}
