/**
 * Typed errors for the whole control plane. lib/ throws these; only the edges (route handlers,
 * WebSocket handlers, the CLI) translate `kind` into an HTTP status, a close code or an exit code.
 */
export type ErrorKind =
  | "validation" // input is malformed or not allowed
  | "conflict" // name taken, pool full, operation already running
  | "not_found"
  | "unauthorized"
  | "forbidden"
  | "engine" // the Docker engine refused or is unreachable
  | "command" // a process or exec exited non-zero
  | "capacity" // disk full, image missing and cannot be built
  | "internal";

export class AppError extends Error {
  readonly kind: ErrorKind;
  /** Field the error is about, for 422 responses and form highlighting. */
  readonly field?: string;
  /** Which step of an operation failed ("images", "network", "containers", "install" …). */
  step?: string;
  /** The HTTP status when the kind's usual one is too coarse (413 body too large, 415 wrong media type). */
  readonly status?: number;
  constructor(kind: ErrorKind, message: string, opts: { field?: string; step?: string; cause?: unknown; status?: number } = {}) {
    super(message, { cause: opts.cause });
    this.name = "AppError";
    this.kind = kind;
    this.field = opts.field;
    this.step = opts.step;
    this.status = opts.status;
  }
}

export class ValidationError extends AppError {
  constructor(message: string, field?: string) {
    super("validation", message, { field });
    this.name = "ValidationError";
  }
}

export class ConflictError extends AppError {
  constructor(message: string, field?: string) {
    super("conflict", message, { field });
    this.name = "ConflictError";
  }
}

export class NotFoundError extends AppError {
  constructor(message: string) {
    super("not_found", message);
    this.name = "NotFoundError";
  }
}

export class EngineError extends AppError {
  constructor(message: string, cause?: unknown) {
    super("engine", message, { cause });
    this.name = "EngineError";
  }
}

/** A process (host spawn or container exec) that exited non-zero. Carries everything needed to debug it. */
export class CommandError extends AppError {
  readonly command: string[];
  readonly exitCode: number | null;
  readonly stdout: string;
  readonly stderr: string;
  constructor(command: string[], exitCode: number | null, stdout: string, stderr: string, what?: string) {
    const tail = (stderr || stdout).trim().split("\n").slice(-5).join("\n");
    super("command", `${what ?? command[0]} exited with ${exitCode ?? "signal"}${tail ? `: ${tail}` : ""}`);
    this.name = "CommandError";
    this.command = command;
    this.exitCode = exitCode;
    this.stdout = stdout;
    this.stderr = stderr;
  }
}

export function isAppError(e: unknown): e is AppError {
  return e instanceof AppError;
}

/** Wrap anything thrown by dockerode into an EngineError with the engine's own message. */
export function engineError(context: string, e: unknown): AppError {
  if (e instanceof AppError) return e;
  const err = e as { statusCode?: number; json?: { message?: string }; message?: string };
  const msg = err?.json?.message ?? err?.message ?? String(e);
  if (err?.statusCode === 404) return new NotFoundError(`${context}: ${msg}`);
  if (err?.statusCode === 409) return new ConflictError(`${context}: ${msg}`);
  return new EngineError(`${context}: ${msg}`, e);
}

/** Edge mapping, kept here so every edge agrees. */
export function httpStatus(kind: ErrorKind): number {
  switch (kind) {
    case "validation": return 422;
    case "conflict": return 409;
    case "not_found": return 404;
    case "unauthorized": return 401;
    case "forbidden": return 403;
    case "capacity": return 507;
    case "engine": return 503;
    case "command": return 500;
    default: return 500;
  }
}
