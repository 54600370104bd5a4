import { existsSync } from "node:fs";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import tarStream from "tar-stream";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { hostContextPath, isPayload, isRecipe } from "@/lib/host/image";
import {
  buildArgs,
  contextFiles,
  entryContextFiles,
  entryHash,
  packContext,
  recipeDir,
  recipeHash,
  recipesDir,
  sharedRecipeFiles,
} from "@/lib/images/build";
import { CATALOG, KINDS, getEntry, isKind } from "@/lib/images/catalog";

const REPO = path.resolve(import.meta.dirname, "../..");
const DIND = path.join(REPO, "dind");

/** Repo-relative paths of every file under `rel`, skipping the host's staging dir (dind/host/build). */
async function filesUnder(rel: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await fs.readdir(path.join(REPO, rel), { withFileTypes: true })) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) {
      if (r !== "dind/host/build") out.push(...(await filesUnder(r)));
    } else if (e.isFile()) out.push(r);
  }
  return out;
}

/** Names of the entries of a tar stream. */
async function tarNames(stream: tarStream.Pack): Promise<Map<string, string>> {
  const extract = tarStream.extract();
  const out = new Map<string, string>();
  stream.pipe(extract);
  for await (const entry of extract) {
    const chunks: Buffer[] = [];
    for await (const c of entry) chunks.push(c as Buffer);
    out.set(entry.header.name, entry.header.type === "file" ? Buffer.concat(chunks).toString("utf8") : `<${entry.header.type}>`);
  }
  return out;
}

/** The context name of every file a Dockerfile COPYs/ADDs from its context (no --from=stage). */
function copiedSources(dockerfile: string): string[] {
  const out: string[] = [];
  for (const line of dockerfile.replace(/\\\n/g, " ").split("\n")) {
    const m = /^\s*(COPY|ADD)\s+(.*)$/i.exec(line);
    if (!m || /--from=/.test(m[2])) continue;
    const words = m[2].trim().split(/\s+/).filter((w) => !w.startsWith("--"));
    out.push(...words.slice(0, -1));
  }
  return out;
}

describe("shared recipe files", () => {
  it("keep one apt-prepare.sh, in dind/, and no per-recipe copies", async () => {
    expect(sharedRecipeFiles()).toEqual([path.join(DIND, "apt-prepare.sh")]);
    expect(existsSync(path.join(DIND, "apt-prepare.sh"))).toBe(true);
    const copies = (await filesUnder("dind")).filter((f) => path.basename(f) === "apt-prepare.sh");
    expect(copies).toEqual(["dind/apt-prepare.sh"]);
  });

  it("reach the build context of every Dockerfile under dind/ that uses them", async () => {
    const shared = await fs.readFile(path.join(DIND, "apt-prepare.sh"), "utf8");
    const dockerfiles = (await filesUnder("dind")).filter((f) => path.basename(f) === "Dockerfile");
    const users = [];
    for (const df of dockerfiles) {
      const sources = copiedSources(await fs.readFile(path.join(REPO, df), "utf8"));
      if (!sources.includes("apt-prepare.sh")) continue;
      users.push(df);
      const m = /^dind\/images\/([^/]+)\/Dockerfile$/.exec(df);
      if (m && isKind(m[1])) {
        // Instance image: what lib/images/build.ts sends to the engine.
        for (const entry of CATALOG.filter((e) => e.kind === m[1])) {
          const packed = await tarNames(packContext(await entryContextFiles(entry)));
          expect(packed.get("apt-prepare.sh"), `${df} (${entry.kind}:${entry.version})`).toBe(shared);
          expect(packed.get("Dockerfile")).toBe(await fs.readFile(path.join(REPO, df), "utf8"));
          // Every file the recipe copies is in the context.
          for (const src of sources) expect(packed.has(src.replace(/\/$/, "")), `${df}: COPY ${src}`).toBe(true);
        }
      } else if (df === "dind/host/Dockerfile") {
        // Host image: the repo files lib/host/image.ts stages, at their context paths.
        const inCtx = new Map(
          [...(await filesUnder("dind")), ...(await filesUnder("supervisor"))]
            .filter(isRecipe)
            .map((rel) => [hostContextPath(rel), rel] as const),
        );
        expect(inCtx.get("apt-prepare.sh")).toBe("dind/apt-prepare.sh");
        expect(inCtx.get("Dockerfile")).toBe("dind/host/Dockerfile");
        // Builds of instance images from inside the host read the shared file from the payload.
        expect(isPayload("dind/apt-prepare.sh")).toBe(true);
        expect(isPayload("dind/images/php/Dockerfile")).toBe(true);
        expect(isPayload("dind/host/Dockerfile")).toBe(false);
      } else {
        throw new Error(`${df} copies apt-prepare.sh but this test does not know how its context is built`);
      }
    }
    expect(users.sort()).toEqual([...KINDS.map((k) => `dind/images/${k}/Dockerfile`), "dind/host/Dockerfile"].sort());
  });

  it("packs the recipe dir as is, with the shared files at the root", async () => {
    const files = await entryContextFiles(getEntry("nginx", "1.22"));
    const own = (await fs.readdir(recipeDir("nginx"))).sort();
    expect(files.map((f) => f.name)).toEqual([...own, "apt-prepare.sh"].sort());
    const packed = await tarNames(packContext(files));
    expect([...packed.keys()].sort()).toEqual(files.map((f) => f.name));
  });
});

describe("recipe hash with shared files", () => {
  let root: string;
  let prevEnv: string | undefined;
  beforeEach(async () => {
    // A copy of the real recipe tree (dind/images/*, dind/apt-prepare.sh), found through MDIND_RECIPES_DIR.
    root = await fs.mkdtemp(path.join(os.tmpdir(), "mdind-recipes-"));
    await fs.cp(recipesDir(), path.join(root, "dind", "images"), { recursive: true });
    await fs.copyFile(path.join(DIND, "apt-prepare.sh"), path.join(root, "dind", "apt-prepare.sh"));
    prevEnv = process.env.MDIND_RECIPES_DIR;
    process.env.MDIND_RECIPES_DIR = path.join(root, "dind", "images");
  });
  afterEach(async () => {
    if (prevEnv === undefined) delete process.env.MDIND_RECIPES_DIR;
    else process.env.MDIND_RECIPES_DIR = prevEnv;
    await fs.rm(root, { recursive: true, force: true });
  });

  it("changes for every catalog image when apt-prepare.sh changes, and only then", async () => {
    expect(sharedRecipeFiles()).toEqual([path.join(root, "dind", "apt-prepare.sh")]);
    const before = new Map<string, string>();
    for (const e of CATALOG) before.set(`${e.kind}:${e.version}`, await entryHash(e));
    // Same content, another place: same hash (the copy is faithful, paths are not hashed).
    const real = process.env.MDIND_RECIPES_DIR;
    delete process.env.MDIND_RECIPES_DIR;
    expect(await entryHash(getEntry("php", "7.4"))).toBe(before.get("php:7.4"));
    process.env.MDIND_RECIPES_DIR = real;
    for (const e of CATALOG) expect(await entryHash(e)).toBe(before.get(`${e.kind}:${e.version}`));

    await fs.appendFile(path.join(root, "dind", "apt-prepare.sh"), "# changed\n");
    for (const e of CATALOG) expect(await entryHash(e), `${e.kind}:${e.version}`).not.toBe(before.get(`${e.kind}:${e.version}`));
  });

  it("covers the shared file under its context name, next to the recipe's own files", async () => {
    const dir = recipeDir("postgres");
    const args = buildArgs(getEntry("postgres", "15"));
    const shared = sharedRecipeFiles();
    const without = await recipeHash(dir, args);
    const withShared = await recipeHash(dir, args, shared);
    expect(withShared).not.toBe(without);
    // Putting the same file in the recipe dir instead is the same context, hence the same hash...
    await fs.copyFile(shared[0], path.join(dir, "apt-prepare.sh"));
    expect(await recipeHash(dir, args)).toBe(withShared);
    // ...but having both is refused: the per-recipe copy would shadow the shared one.
    await expect(contextFiles(dir, shared)).rejects.toThrow(/shadows the shared/);
    await fs.rm(path.join(dir, "apt-prepare.sh"));
    await fs.rm(shared[0]);
    await expect(recipeHash(dir, args, shared)).rejects.toThrow(/missing/);
  });
});
