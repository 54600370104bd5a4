import { isAppError, type ErrorKind } from "../../lib/errors";

/**
 * The CLI's exit codes, one per kind of failure a script may want to tell apart. README.md's
 * "Exit codes" section lists them (tests/unit/cli-exit.test.ts keeps the two in step).
 */
export const EXIT_OK = 0;
/** Anything else: the engine unreachable, a command in a container failed, an internal error, a partial blueprint. */
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

export const EXIT_CODES: Readonly<Partial<Record<ErrorKind, number>>> = Object.freeze({
  validation: EXIT_USAGE,
  conflict: 3,
  not_found: 4,
  unauthorized: 5,
  forbidden: 5,
  // Out of disk, or an image that is missing and cannot be built: retrying as is will not help.
  capacity: 6,
});

/** Thrown for a malformed command line. */
export class UsageError extends Error {}

export function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT_USAGE;
  if (isAppError(e)) return EXIT_CODES[e.kind] ?? EXIT_FAILURE;
  if ((e as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) return EXIT_USAGE;
  return EXIT_FAILURE;
}
