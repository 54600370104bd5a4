import { z } from "zod";
import { ValidationError } from "./errors";

/**
 * Instance names: the one rule. A name becomes container, network and folder names, a mailbox and
 * a URL segment, so it is a strict allowlist (lowercase DNS label, 2–32 characters).
 */
export const NAME_RE = /^[a-z][a-z0-9-]{0,30}[a-z0-9]$/;
export const NAME_RULE = "2–32 characters: lowercase letters, digits and '-', starting with a letter, not ending with '-'";

export const nameSchema = z.string().max(32, "at most 32 characters").regex(NAME_RE, NAME_RULE);

export function validateName(name: unknown): string {
  const r = nameSchema.safeParse(name);
  if (!r.success) throw new ValidationError(`name: ${r.error.issues[0]?.message ?? "invalid"}`, "name");
  return r.data;
}
