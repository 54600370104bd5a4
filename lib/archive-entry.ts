import { ValidationError } from "./errors";

/**
 * The rules every tar entry from outside must pass before a byte is written, shared by instance
 * imports (instances/archive.ts) and Moodle packages (lib/moodle/extract.ts): no NUL or backslash,
 * not absolute, no "..", plain files and directories only (no symlinks, hard links, devices or
 * fifos: a link is how an archive writes outside its folder), and a per-entry size cap.
 * Returns the path normalised to its non-empty segments.
 */
export interface TarHeaderLike {
  name: string;
  type?: string | null;
  size?: number | null;
}

export function checkArchiveEntry(h: TarHeaderLike, maxEntryBytes: number, field = "archive"): string {
  const raw = h.name;
  const shown = raw.slice(0, 80);
  if (raw.includes("\0") || raw.includes("\\")) throw new ValidationError(`archive entry '${shown}' has a forbidden character`, field);
  if (raw.startsWith("/") || /^[a-zA-Z]:/.test(raw)) throw new ValidationError(`archive entry '${shown}' is absolute`, field);
  const parts = raw.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw new ValidationError(`archive entry '${shown}' escapes the archive`, field);
  if (parts.length === 0) throw new ValidationError(`archive entry '${shown}' names nothing`, field);
  if (h.type !== "file" && h.type !== "directory") {
    throw new ValidationError(`archive entry '${shown}' is a ${h.type ?? "special file"}; only files and directories are allowed`, field);
  }
  if ((h.size ?? 0) > maxEntryBytes) throw new ValidationError(`archive entry '${shown}' is too large`, field);
  return parts.join("/");
}
