import { randomBytes } from "node:crypto";

/**
 * The dashboard pages' Content-Security-Policy. Next needs inline scripts (its flight data and the
 * theme script), so scripts are allowed by a per-request nonce rather than 'unsafe-inline'; with
 * 'strict-dynamic' the chunks those scripts load are trusted too. Styles stay 'unsafe-inline'
 * (React style props and Next's error pages); everything else is this origin only. Development
 * adds 'unsafe-eval' for React's dev tooling.
 */
export const NONCE_HEADER = "x-nonce";

export function newNonce(): string {
  return randomBytes(16).toString("base64");
}

export function contentSecurityPolicy(nonce: string, dev = false): string {
  return [
    "default-src 'self'",
    `script-src 'self' 'nonce-${nonce}' 'strict-dynamic'${dev ? " 'unsafe-eval'" : ""}`,
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "frame-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'self'",
  ].join("; ");
}
