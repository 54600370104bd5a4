import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import tarFs from "tar-fs";
import { docker, followProgress, LABEL } from "../docker";
import { EngineError, engineError } from "../errors";
import { ensureBase, run, type Progress } from "../images/base";
import { run as runProc } from "../proc";

/**
 * The DinD host image (moodle-dind/host:latest). Its recipe is dind/host/Dockerfile plus the
 * supervisor config, the helper scripts, Adminer's wrapper and the dashboard payload. The payload
 * is staged in dind/host/build/ctx (gitignored): the repo's runtime files copied, node_modules
 * hard-linked (a copy of ~500 MB would take longer than the build), `next build` run there — never
 * in the working tree, where a developer's `next dev` may be using .next — and dev-only packages
 * pruned. The image is rebuilt only when the recipe hash (label org.moodle-dind.recipe) changes.
 */
export const HOST_IMAGE = "moodle-dind/host:latest";

/** Top-level repo entries that are never part of the dashboard payload. */
const EXCLUDE_TOP = new Set([
  ".git",
  "node_modules",
  ".next",
  "tests",
  "bench",
  "docs",
  "shared-images",
  ".moodle-dind",
  "moodle-sources",
  "test-results",
  "playwright-report",
  "supervisor",
  "compose.yaml",
  "next-env.d.ts",
]);
/** Directories skipped at any depth inside the payload. */
const EXCLUDE_DEEP = new Set(["node_modules", ".next", ".git"]);
/** Packages only the build, the tests or the type checker use; removed from the staged node_modules. */
const DEV_ONLY = [
  "playwright",
  "playwright-core",
  "@playwright",
  "typescript",
  "@typescript",
  "vitest",
  "@vitest",
  "vite",
  "@rolldown",
  "rolldown",
  "fast-check",
  "@types",
  "node-pty/prebuilds",
  "node-pty/deps",
  "node-pty/src",
  ".cache",
];

export function repoRoot(): string {
  return path.resolve(process.env.MDIND_APP_ROOT ?? process.cwd());
}

const buildDir = (root: string) => path.join(root, "dind", "host", "build");

/**
 * Where the payload comes from: the working tree (default: what you see is what you ship) or, with
 * MDIND_HOST_SOURCE=head, the last commit (reproducible; what CI and tests use, since a shared
 * working tree can hold someone's half-written file).
 */
export type HostSource = "worktree" | "head";
export function hostSource(): HostSource {
  return process.env.MDIND_HOST_SOURCE === "head" ? "head" : "worktree";
}

const RECIPE_PREFIXES = ["dind/host/bin/", "dind/host/adminer/", "supervisor/"];
/** dind/apt-prepare.sh is shared with the instance recipes (lib/images/build.ts adds it to theirs). */
const SHARED_RECIPE_FILES = new Set(["dind/apt-prepare.sh"]);
const RECIPE_FILES = new Set(["dind/host/Dockerfile", ...SHARED_RECIPE_FILES]);

export function isRecipe(rel: string): boolean {
  return RECIPE_FILES.has(rel) || RECIPE_PREFIXES.some((p) => rel.startsWith(p));
}

/**
 * Where a recipe file goes in the host build context: dind/host/'s files and the shared
 * dind/apt-prepare.sh at the root (Dockerfile, apt-prepare.sh, bin/, adminer/), supervisor/ as is.
 */
export function hostContextPath(rel: string): string {
  if (rel.startsWith("dind/host/")) return rel.slice("dind/host/".length);
  if (SHARED_RECIPE_FILES.has(rel)) return path.posix.basename(rel);
  return rel;
}

/** Repo-relative path → part of the dashboard payload? */
export function isPayload(rel: string): boolean {
  const parts = rel.split("/");
  if (parts.some((seg) => EXCLUDE_DEEP.has(seg))) return false;
  if (rel.startsWith("tests/fixture-app/")) return true;
  const top = parts[0];
  if (top.startsWith(".") || EXCLUDE_TOP.has(top)) return false;
  // The instance image recipes and the file they share go in (builds from inside the host); the
  // host recipe is not payload.
  if (top === "dind") return rel.startsWith("dind/images/") || SHARED_RECIPE_FILES.has(rel);
  return true;
}

/** Directories a working-tree walk never enters (instance data under .moodle-dind can be huge). */
function pruneDir(rel: string): boolean {
  const parts = rel.split("/");
  if (EXCLUDE_DEEP.has(parts[parts.length - 1])) return true;
  if (rel === "dind/host/build") return true;
  if (parts.length === 1 && rel !== "tests" && rel !== "supervisor" && (rel.startsWith(".") || EXCLUDE_TOP.has(rel))) return true;
  if (rel === "tests" || "tests/fixture-app".startsWith(`${rel}/`) || rel.startsWith("tests/fixture-app")) return false;
  return rel.startsWith("tests/");
}

async function walk(root: string, rel: string, out: string[]): Promise<void> {
  const entries = await fs.readdir(path.join(root, rel), { withFileTypes: true }).catch(() => []);
  for (const e of entries) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (!pruneDir(r)) await walk(root, r, out);
    } else if (e.isFile()) {
      out.push(r);
    }
  }
}

/** Git's blob id of some content: the same digest whichever source a file came from. */
function blobId(content: Buffer): string {
  return createHash("sha1").update(`blob ${content.length}\0`).update(content).digest("hex");
}

/** rel path → blob id, for the recipe and payload files of the chosen source. */
export async function sourceFiles(root: string, source = hostSource()): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  if (source === "head") {
    const { stdout } = await runProc("git", ["-C", root, "ls-tree", "-r", "--full-tree", "HEAD"]);
    for (const line of stdout.split("\n")) {
      const m = /^\d+ blob ([0-9a-f]{40})\t(.+)$/.exec(line);
      if (m && (isRecipe(m[2]) || isPayload(m[2]))) out.set(m[2], m[1]);
    }
  } else {
    const all: string[] = [];
    await walk(root, "", all);
    for (const rel of all) if (isRecipe(rel) || isPayload(rel)) out.set(rel, blobId(await fs.readFile(path.join(root, rel))));
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** sha256 over every recipe and payload file (path and content); package-lock.json stands for node_modules. */
export async function hostRecipeHash(root = repoRoot(), source = hostSource()): Promise<string> {
  const h = createHash("sha256");
  for (const [rel, id] of await sourceFiles(root, source)) h.update(`${rel}\0${id}\n`);
  return h.digest("hex").slice(0, 32);
}

/** Put `rels` (repo-relative) of the chosen source under `dest`, keeping their paths. */
async function extract(root: string, source: HostSource, rels: string[], dest: string): Promise<void> {
  await fs.mkdir(dest, { recursive: true });
  if (source === "head") {
    const archive = path.join(path.dirname(dest), `.${path.basename(dest)}.tar`);
    await runProc("git", ["-C", root, "archive", "--format=tar", `--output=${archive}`, "HEAD", "--", ...rels]);
    await runProc("tar", ["-x", "-f", archive, "-C", dest]);
    await fs.rm(archive, { force: true });
    return;
  }
  for (const rel of rels) {
    const to = path.join(dest, rel);
    await fs.mkdir(path.dirname(to), { recursive: true });
    await fs.cp(path.join(root, rel), to, { preserveTimestamps: true });
  }
}

/** `next build` must run with the staged app as its working directory (process.cwd() is its root). */
async function runIn(cwd: string, argv: string[], onLine: Progress): Promise<void> {
  await runProc(argv[0], argv.slice(1), { cwd, env: { ...process.env, NEXT_TELEMETRY_DISABLED: "1" }, onLine });
}

/** Stage the build context; returns its directory. */
export async function stageHostContext(root: string, log: Progress): Promise<string> {
  const base = buildDir(root);
  const ctx = path.join(base, "ctx");
  const app = path.join(ctx, "app");
  const nextCache = path.join(base, "next-cache");
  await fs.rm(ctx, { recursive: true, force: true });
  await fs.mkdir(app, { recursive: true });

  const source = hostSource();
  const files = [...(await sourceFiles(root, source)).keys()];
  const recipe = files.filter(isRecipe);
  const payload = files.filter(isPayload);
  await extract(root, source, recipe, path.join(base, "recipe"));
  // Context layout: Dockerfile, bin/, adminer/ from dind/host and dind/apt-prepare.sh at the root; supervisor/ as is.
  for (const rel of recipe) {
    const inCtx = hostContextPath(rel);
    await fs.mkdir(path.dirname(path.join(ctx, inCtx)), { recursive: true });
    await fs.rename(path.join(base, "recipe", rel), path.join(ctx, inCtx));
  }
  await fs.rm(path.join(base, "recipe"), { recursive: true, force: true });
  await extract(root, source, payload, app);
  log(`staged ${payload.length} payload files from the ${source === "head" ? "last commit" : "working tree"}`);

  // Hard links: instant, and nothing below writes into node_modules in place.
  await run(["cp", "-al", path.join(root, "node_modules"), path.join(app, "node_modules")], log, "link node_modules");

  // Staged under the repo, Next would take the repo's lockfile as its workspace root and lay the
  // build out relative to /work/…; pin Turbopack's root to the staged app (the repo's config is
  // kept as is, wrapped).
  const cfg = path.join(app, "next.config.ts");
  if (await fs.stat(cfg).then(() => true, () => false)) {
    await fs.rename(cfg, path.join(app, "next.config.repo.ts"));
    await fs.writeFile(
      cfg,
      [
        "// Generated by lib/host/image.ts for the DinD host image: the repo's next.config.ts with",
        "// Turbopack's root pinned to this directory.",
        'import type { NextConfig } from "next";',
        'import repo from "./next.config.repo";',
        "",
        "const config: NextConfig = { ...repo, turbopack: { ...repo.turbopack, root: process.cwd() } };",
        "export default config;",
        "",
      ].join("\n"),
    );
  }

  // Next's incremental cache survives between builds outside the context.
  await fs.mkdir(path.join(app, ".next"), { recursive: true });
  if (await fs.stat(nextCache).then(() => true, () => false)) await fs.rename(nextCache, path.join(app, ".next", "cache"));
  log("next build (in the staging directory)");
  const started = Date.now();
  try {
    await runIn(app, [process.execPath, path.join(app, "node_modules", "next", "dist", "bin", "next"), "build"], (l) => log(`next: ${l}`));
  } finally {
    await fs.rename(path.join(app, ".next", "cache"), nextCache).catch(() => undefined);
  }
  log(`next build done in ${Math.round((Date.now() - started) / 1000)}s`);
  for (const rel of DEV_ONLY) await fs.rm(path.join(app, "node_modules", rel), { recursive: true, force: true });
  return ctx;
}

async function inspectLabel(ref: string): Promise<string | null> {
  try {
    const info = await docker().getImage(ref).inspect();
    return info.Config?.Labels?.[LABEL.recipe] ?? "";
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return null;
    throw engineError(`inspect ${ref}`, e);
  }
}

/**
 * Build the host image unless one with the same recipe hash exists (or `force`).
 * Returns what happened, for the CLI's summary.
 */
export async function ensureHostImage(
  opts: { root?: string; force?: boolean; tag?: string; onProgress?: Progress } = {},
): Promise<{ ref: string; status: "built" | "up to date"; hash: string; seconds: number }> {
  const root = opts.root ?? repoRoot();
  const ref = opts.tag ?? HOST_IMAGE;
  const log = opts.onProgress ?? (() => {});
  const started = Date.now();
  const hash = await hostRecipeHash(root, hostSource());
  if (!opts.force && (await inspectLabel(ref)) === hash) {
    log(`${ref} is up to date (recipe ${hash})`);
    return { ref, status: "up to date", hash, seconds: (Date.now() - started) / 1000 };
  }
  await ensureBase("trixie", log);
  const ctx = await stageHostContext(root, log);
  log(`building ${ref}`);
  const tail: string[] = [];
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await docker().buildImage(tarFs.pack(ctx) as unknown as NodeJS.ReadableStream, {
      t: ref,
      buildargs: { BASE: "debian:trixie-slim" },
      labels: { [LABEL.recipe]: hash, [LABEL.managed]: "true", [LABEL.kind]: "host" },
      rm: true,
      forcerm: true,
    })) as NodeJS.ReadableStream;
  } catch (e) {
    throw engineError(`build ${ref}`, e);
  }
  try {
    await followProgress(stream, (ev) => {
      for (const line of (ev.stream ?? (ev.status && !ev.progress ? ev.status : "")).split("\n")) {
        const l = line.trimEnd();
        if (!l) continue;
        tail.push(l);
        if (tail.length > 15) tail.shift();
        log(l);
      }
    });
  } catch (e) {
    const err = new EngineError(`build ${ref} failed: ${e instanceof Error ? e.message : String(e)}\n${tail.join("\n")}`, e);
    err.step = "images";
    throw err;
  }
  // The context is a few hundred MB of hard links and copies; nothing needs it after the build.
  await fs.rm(ctx, { recursive: true, force: true });
  const seconds = (Date.now() - started) / 1000;
  log(`built ${ref} in ${seconds.toFixed(0)}s`);
  return { ref, status: "built", hash, seconds };
}
