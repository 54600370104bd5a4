import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import tarStream from "tar-stream";
import { settings } from "../config";
import { docker, followProgress, LABEL } from "../docker";
import { AppError, EngineError, engineError } from "../errors";
import { baseRef, ensureBase, type Progress } from "./base";
import {
  getEntry,
  imageRef,
  imageRepo,
  normaliseDebVersion,
  tagsFor,
  type CatalogEntry,
  type ImageKind,
} from "./catalog";

export type { Progress } from "./base";

/**
 * Where the recipes (dind/images/<kind>/) live. Searched rather than computed from this file's
 * location because bundlers (Next) move compiled code away from the source tree.
 */
export function recipesDir(): string {
  const candidates = [
    process.env.MDIND_RECIPES_DIR,
    path.resolve(process.cwd(), "dind/images"),
    (() => {
      try {
        return path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../dind/images");
      } catch {
        return undefined;
      }
    })(),
  ].filter((c): c is string => !!c);
  const found = candidates.find((c) => existsSync(path.join(c, "php", "Dockerfile")));
  if (!found) {
    throw new AppError("internal", `Image recipes not found (looked in ${candidates.join(", ")}); set MDIND_RECIPES_DIR`);
  }
  return found;
}

export function recipeDir(kind: ImageKind): string {
  return path.join(recipesDir(), kind);
}

/**
 * Files every recipe shares, kept once in dind/ (the parent of the recipes dir, so also
 * $MDIND_RECIPES_DIR/..) and added at the root of each instance image's build context.
 */
export const SHARED_RECIPE_FILES = ["apt-prepare.sh"] as const;

/** Absolute paths of the shared recipe files (dind/apt-prepare.sh, ...). */
export function sharedRecipeFiles(): string[] {
  const dir = path.dirname(recipesDir());
  return SHARED_RECIPE_FILES.map((name) => path.join(dir, name));
}

/** One file of a build context: its name inside the context and where it is read from. */
export interface ContextFile {
  name: string;
  source: string;
}

async function listFiles(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const ent of await fs.readdir(path.join(dir, rel), { withFileTypes: true })) {
    const r = rel ? `${rel}/${ent.name}` : ent.name;
    if (ent.isDirectory()) out.push(...(await listFiles(dir, r)));
    else if (ent.isFile()) out.push(r);
  }
  return out;
}

export function buildArgs(entry: CatalogEntry): Record<string, string> {
  return { BASE: baseRef(entry.suite), VERSION: entry.version };
}

/**
 * The build context of a recipe: every file of the recipe dir plus the `shared` files (absolute
 * paths) at its root, sorted by name. A recipe dir holding its own copy of a shared file is an
 * error rather than a silent override: edits to the shared copy would not reach that image.
 */
export async function contextFiles(dir: string, shared: readonly string[] = []): Promise<ContextFile[]> {
  const files: ContextFile[] = (await listFiles(dir)).map((name) => ({ name, source: path.join(dir, name) }));
  for (const source of shared) {
    const name = path.basename(source);
    if (files.some((f) => f.name === name)) {
      throw new AppError("internal", `${path.join(dir, name)} shadows the shared ${source}; keep only the shared one`);
    }
    if (!existsSync(source)) throw new AppError("internal", `Shared recipe file ${source} is missing`);
    files.push({ name, source });
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/**
 * Identity of a recipe: every file of its build context (the recipe dir plus the `shared` files,
 * sorted by name, so directory order does not matter) plus the build args. An image labelled with
 * the same hash is up to date.
 */
export async function recipeHash(
  dir: string,
  args: Record<string, string>,
  shared: readonly string[] = [],
): Promise<string> {
  const h = createHash("sha256");
  for (const { name: f, source } of await contextFiles(dir, shared)) {
    // Length-prefixed so moving bytes between a name and a body can never produce the same hash.
    const body = await fs.readFile(source);
    h.update(`file ${f.length}:${f} ${body.length}:`);
    h.update(body);
  }
  for (const k of Object.keys(args).sort()) h.update(`arg ${k}=${args[k]}\n`);
  return h.digest("hex");
}

export async function entryHash(entry: CatalogEntry): Promise<string> {
  return recipeHash(recipeDir(entry.kind), buildArgs(entry), sharedRecipeFiles());
}

/** The context files of a catalog entry (what its build sends and its hash covers). */
export function entryContextFiles(entry: CatalogEntry): Promise<ContextFile[]> {
  return contextFiles(recipeDir(entry.kind), sharedRecipeFiles());
}

/** A tar stream of `files` (with their modes), as the engine's build endpoint takes it. */
export function packContext(files: readonly ContextFile[]): tarStream.Pack {
  const pack = tarStream.pack();
  const add = (header: Partial<tarStream.Header> & { name: string }, body?: Buffer) =>
    new Promise<void>((resolve, reject) => {
      const done = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body) pack.entry(header, body, done);
      else pack.entry(header, done);
    });
  void (async () => {
    const dirs = new Set<string>();
    for (const f of files) {
      // Parent directories first, as a directory walk would list them.
      const parts = f.name.split("/").slice(0, -1);
      for (let i = 1; i <= parts.length; i++) {
        const d = parts.slice(0, i).join("/");
        if (dirs.has(d)) continue;
        dirs.add(d);
        await add({ name: d, type: "directory", mode: 0o755 });
      }
      const [body, st] = await Promise.all([fs.readFile(f.source), fs.stat(f.source)]);
      await add({ name: f.name, type: "file", mode: st.mode & 0o7777, mtime: st.mtime, size: body.length }, body);
    }
    pack.finalize();
  })().catch((e: unknown) => pack.destroy(e instanceof Error ? e : new Error(String(e))));
  return pack;
}

async function inspectOrNull(ref: string) {
  try {
    return await docker().getImage(ref).inspect();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return null;
    throw engineError(`inspect ${ref}`, e);
  }
}

/** Run a command in a throwaway container of `ref` and return its output. */
async function runInImage(ref: string, argv: string[]): Promise<string> {
  const c = await docker().createContainer({
    Image: ref,
    Entrypoint: argv.slice(0, 1),
    Cmd: argv.slice(1),
    // A TTY gives plain output (no stdout/stderr multiplexing headers to strip).
    Tty: true,
    Labels: { [LABEL.managed]: "true" },
    HostConfig: { NetworkMode: "none" },
  });
  try {
    await c.start();
    const res = (await c.wait()) as { StatusCode: number };
    const out = (await c.logs({ stdout: true, stderr: true })).toString("utf8");
    if (res.StatusCode !== 0) throw new EngineError(`${argv.join(" ")} in ${ref} exited with ${res.StatusCode}: ${out.trim()}`);
    return out;
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

/** Exact upstream version of the image's main package (php 8.2.29, postgres 15.14, ...). */
export async function exactVersion(ref: string, entry: CatalogEntry): Promise<string> {
  const out = await runInImage(ref, ["dpkg-query", "-W", "-f=${Version}", entry.package]);
  return normaliseDebVersion(out);
}

export interface BuildResult {
  ref: string;
  status: "built" | "up to date";
  /** Exact version tag, e.g. 8.2.29 (read from the image when built, from its tags when up to date). */
  exact?: string;
  tags: string[];
  seconds: number;
}

const locks = new Map<string, Promise<unknown>>();

/** Serialise work on one image inside this process, so two creates never build the same image twice. */
function withImageLock<T>(ref: string, fn: () => Promise<T>): Promise<T> {
  const prev = locks.get(ref) ?? Promise.resolve();
  const next = prev.catch(() => undefined).then(fn);
  const tail = next.catch(() => undefined);
  locks.set(ref, tail);
  void tail.then(() => {
    if (locks.get(ref) === tail) locks.delete(ref);
  });
  return next;
}

function exactFromTags(repoTags: string[] | undefined, kind: ImageKind, version: string): string | undefined {
  const repo = imageRepo(kind);
  return (repoTags ?? [])
    .filter((t) => t.startsWith(`${repo}:${version}.`))
    .map((t) => t.slice(repo.length + 1))
    .sort()
    .pop();
}

async function doBuild(entry: CatalogEntry, onProgress: Progress, force: boolean): Promise<BuildResult> {
  const started = Date.now();
  const ref = imageRef(entry.kind, entry.version);
  const hash = await entryHash(entry);
  const current = await inspectOrNull(ref);
  if (!force && current?.Config?.Labels?.[LABEL.recipe] === hash) {
    onProgress(`${ref} is up to date`);
    return {
      ref,
      status: "up to date",
      exact: exactFromTags(current.RepoTags, entry.kind, entry.version),
      tags: current.RepoTags ?? [ref],
      seconds: (Date.now() - started) / 1000,
    };
  }

  await ensureBase(entry.suite, onProgress);
  onProgress(`building ${ref} on ${baseRef(entry.suite)}${force ? " (forced, no cache)" : ""}`);
  // The recipe dir plus the shared files (dind/apt-prepare.sh): exactly what `hash` covers.
  const context = packContext(await entryContextFiles(entry));
  const tail: string[] = [];
  let stream: NodeJS.ReadableStream;
  try {
    stream = (await docker().buildImage(context as unknown as NodeJS.ReadableStream, {
      t: ref,
      buildargs: buildArgs(entry),
      labels: { [LABEL.recipe]: hash, [LABEL.managed]: "true" },
      rm: true,
      forcerm: true,
      // A forced build exists to pick up new package versions (security fixes), which a layer cache would hide.
      nocache: force,
    })) as NodeJS.ReadableStream;
  } catch (e) {
    throw engineError(`build ${ref}`, e);
  }
  try {
    await followProgress(stream, (ev) => {
      const text = ev.stream ?? (ev.status && !ev.progress ? ev.status : "");
      for (const line of text.split("\n")) {
        const l = line.trimEnd();
        if (!l) continue;
        tail.push(l);
        if (tail.length > 15) tail.shift();
        onProgress(l);
      }
    });
  } catch (e) {
    // The engine repeats the whole RUN command in its message; the step's own output (tail) says more.
    const msg = (e instanceof Error ? e.message : String(e)).replace(
      /^The command '[\s\S]*' returned a non-zero code: (\d+)$/,
      "a RUN step exited with $1",
    );
    const err = new EngineError(`build ${ref} failed: ${msg}\n${tail.join("\n")}`, e);
    err.step = "images";
    throw err;
  }

  const exact = await exactVersion(ref, entry);
  const tags = tagsFor(entry.kind, entry.version, exact);
  const image = docker().getImage(ref);
  for (const tag of tags) {
    if (tag === entry.version) continue;
    await image.tag({ repo: imageRepo(entry.kind), tag }).catch((e: unknown) => {
      throw engineError(`tag ${imageRepo(entry.kind)}:${tag}`, e);
    });
  }
  const seconds = (Date.now() - started) / 1000;
  onProgress(`built ${ref} (${exact}) in ${seconds.toFixed(0)}s; tags: ${tags.join(", ")}`);
  return { ref, status: "built", exact, tags: tags.map((t) => `${imageRepo(entry.kind)}:${t}`), seconds };
}

/** Build one catalog image unless an image with the same recipe hash exists (or `force`). */
export function buildImage(
  kind: ImageKind | string,
  version: string,
  opts: { onProgress?: Progress; force?: boolean } = {},
): Promise<BuildResult> {
  const entry = getEntry(kind, version);
  return withImageLock(imageRef(entry.kind, entry.version), () => doBuild(entry, opts.onProgress ?? (() => {}), !!opts.force));
}

export interface ImageWant {
  kind: ImageKind | string;
  version: string;
}

/**
 * Make sure every image of a stack exists, building only the missing ones (an existing image is used
 * as is even when its recipe changed: rebuilding is an explicit `images build`). Used by instance create.
 */
export async function ensureImages(list: ImageWant[], onProgress: Progress = () => {}): Promise<void> {
  const entries = list.map((w) => getEntry(w.kind, w.version));
  for (const entry of entries) {
    const ref = imageRef(entry.kind, entry.version);
    await withImageLock(ref, async () => {
      if (await inspectOrNull(ref)) return;
      if (!settings().autoBuildImages) {
        throw new AppError(
          "capacity",
          `Image ${ref} is missing; run \`moodle-dind images build ${entry.kind}:${entry.version}\` ` +
            "(or load it with `docker load`), or allow automatic builds (unset MDIND_AUTO_BUILD=0).",
          { step: "images" },
        );
      }
      onProgress(`${ref} is missing; building it (first time only)`);
      await doBuild(entry, onProgress, false).catch((e: unknown) => {
        // Offline, or no Debian mirror: say which image and the way that needs no network here.
        const why = (e instanceof Error ? e.message : String(e)).split("\n")[0];
        throw new AppError(
          "capacity",
          `Image ${ref} is missing and could not be built here (${why}). On a machine that can build it, run ` +
            `\`moodle-dind images build ${entry.kind}:${entry.version}\` and \`moodle-dind images save\`, then copy ` +
            `${entry.kind}-${entry.version}.tar into shared-images/ (the host loads it at start), or pick versions whose images are present.`,
          { step: "images", cause: e },
        );
      });
    });
  }
}
