import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { AppError, ValidationError } from "../errors";
import { run } from "../proc";
import { BRANCH_RE, GIT_REF_RE, libraryDir, RELEASE_RE } from "./paths";
import { ingest, type BuildInfo, type OnProgress } from "./store";

/**
 * A build from a git repository: `git clone --depth 1 --branch <ref> -- <url>` (argv, never a
 * shell), then added like a folder. Only http(s) URLs; a local path only when MDIND_ALLOW_FILE_GIT=1
 * (the tests' bare repository). Other transports (ssh, ext::, file://) are refused by git itself
 * through protocol.allow, and links are checked out as plain files (core.symlinks=false).
 */
export function checkGitUrl(url: unknown): string {
  if (typeof url !== "string" || url.length > 500 || /[\s\u0000-\u001f]/.test(url) || url.startsWith("-")) {
    throw new ValidationError("git: a repository URL (https://…)", "git");
  }
  if (/^https?:\/\//i.test(url)) {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      throw new ValidationError("git: not a valid URL", "git");
    }
    // Credentials would end up in build.json and in operation logs.
    if (u.username || u.password) throw new ValidationError("git: the URL must not contain credentials", "git");
    return url;
  }
  if (process.env.MDIND_ALLOW_FILE_GIT === "1" && /^\/[A-Za-z0-9._/-]+$/.test(url) && !url.split("/").includes("..")) return url;
  throw new ValidationError("git: only http:// and https:// repository URLs are allowed", "git");
}

export function checkGitRef(ref: unknown): string {
  if (typeof ref !== "string" || !GIT_REF_RE.test(ref)) throw new ValidationError("ref: a tag or branch name (letters, digits, . _ / -), not starting with '-'", "ref");
  return ref;
}

/** Moodle's own names: release 4.5.5 → tag v4.5.5, branch 4.5 → MOODLE_405_STABLE. */
export function defaultRef(version: string): string {
  if (RELEASE_RE.test(version)) return `v${version}`;
  const m = BRANCH_RE.test(version) ? /^(\d)\.(\d{1,2})$/.exec(version) : null;
  if (!m) throw new ValidationError(`version: X.Y or X.Y.Z, not ${JSON.stringify(version.slice(0, 20))}`, "version");
  return `MOODLE_${m[1]}${m[2].padStart(2, "0")}_STABLE`;
}

export async function cloneBuild(url: string, ref: string, onProgress?: OnProgress, expect?: string): Promise<BuildInfo> {
  checkGitUrl(url);
  checkGitRef(ref);
  await fs.mkdir(libraryDir(), { recursive: true });
  // Inside the library folder: the clone is then moved into place, not copied.
  const work = path.join(libraryDir(), `git.partial-${process.pid}-${randomBytes(4).toString("hex")}`);
  const dest = path.join(work, "src");
  await fs.mkdir(work);
  try {
    onProgress?.({ phase: "clone" });
    const local = url.startsWith("/");
    const allow = ["-c", "protocol.allow=never", "-c", "protocol.https.allow=always", "-c", "protocol.http.allow=always"];
    if (local) allow.push("-c", "protocol.file.allow=always");
    await run("git", [...allow, "-c", "core.symlinks=false", "clone", "--quiet", "--depth", "1", "--branch", ref, "--", url, dest], {
      env: { ...process.env, GIT_TERMINAL_PROMPT: "0", GIT_ASKPASS: "/bin/false", GIT_CONFIG_NOSYSTEM: "1" },
    }).catch((e: unknown) => {
      const msg = e instanceof Error ? e.message.split("\n").slice(-1)[0] : String(e);
      throw new AppError("command", `git clone of ${url} at ${ref} failed: ${msg}`, { field: "git", cause: e });
    });
    return await ingest(dest, { kind: "git", detail: `${url}#${ref}` }, { onProgress, move: true, expect });
  } finally {
    await fs.rm(work, { recursive: true, force: true });
  }
}
