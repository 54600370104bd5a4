import { ValidationError } from "../errors";

/**
 * Validate a path that comes from untrusted input (a bundled resource, a ZIP entry name) and must stay
 * inside some root. Returns it normalised to forward slashes without "." or empty segments. Anything
 * that could climb out or be read differently by another tool is refused rather than "cleaned": "..",
 * absolute paths, drive letters, backslashes (a separator on Windows, and a classic zip-slip vector),
 * NUL and other control characters.
 */
export function safeRelativePath(input: string, what = "path"): string {
  if (typeof input !== "string" || input.length === 0) throw new ValidationError(`${what} is empty`);
  if (input.length > 1024) throw new ValidationError(`${what} is longer than 1024 characters`);
  if (/[\u0000-\u001f\u007f]/.test(input)) throw new ValidationError(`${what} contains a control character (NUL or similar): ${JSON.stringify(input)}`);
  if (input.includes("\\")) throw new ValidationError(`${what} contains a backslash: ${JSON.stringify(input)}`);
  if (input.startsWith("/") || /^[a-zA-Z]:/.test(input)) throw new ValidationError(`${what} is absolute: ${JSON.stringify(input)}`);
  const segments = input.split("/");
  const out: string[] = [];
  for (const seg of segments) {
    if (seg === "..") throw new ValidationError(`${what} climbs out of its root with '..': ${JSON.stringify(input)}`);
    if (seg === "" || seg === ".") continue;
    if (seg.length > 255) throw new ValidationError(`${what} has a segment longer than 255 characters`);
    out.push(seg);
  }
  if (out.length === 0) throw new ValidationError(`${what} names no file: ${JSON.stringify(input)}`);
  return out.join("/");
}

/** True when `child` (already normalised by safeRelativePath) lies inside `dir` (also normalised, "" = root). */
export function isUnder(dir: string, child: string): boolean {
  return dir === "" || child === dir || child.startsWith(`${dir}/`);
}
