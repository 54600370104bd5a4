import { spawn } from "node:child_process";
import fs from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { docker, followProgress } from "../docker";
import { AppError, CommandError, engineError } from "../errors";
import type { Suite } from "./catalog";

export type Progress = (line: string) => void;

const PULL_TIMEOUT_MS = 15_000;

export function baseRef(suite: Suite): string {
  return `debian:${suite}-slim`;
}

function mirror(): string {
  return (process.env.MDIND_DEBIAN_MIRROR ?? "http://deb.debian.org/debian").replace(/\/+$/, "");
}

/**
 * Security updates live on a sibling archive of the main mirror (deb.debian.org/debian-security).
 * A custom mirror may not carry it, so it can be overridden separately.
 */
function securityMirror(): string {
  const env = process.env.MDIND_DEBIAN_SECURITY_MIRROR;
  if (env) return env.replace(/\/+$/, "");
  const m = mirror();
  return m.endsWith("/debian") ? `${m}-security` : "http://deb.debian.org/debian-security";
}

/** apt sources for a bootstrapped rootfs: debootstrap only writes the main suite, without updates or security. */
export function aptSources(suite: Suite, main = mirror(), security = securityMirror()): string {
  return [
    `deb ${main} ${suite} main`,
    `deb ${main} ${suite}-updates main`,
    `deb ${security} ${suite}-security main`,
    "",
  ].join("\n");
}

export async function imageExists(ref: string): Promise<boolean> {
  try {
    await docker().getImage(ref).inspect();
    return true;
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return false;
    throw engineError(`inspect ${ref}`, e);
  }
}

/** A pull that gives up quickly: offline machines must fall through to debootstrap, not hang. */
async function tryPull(ref: string, onProgress: Progress): Promise<boolean> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(), PULL_TIMEOUT_MS);
  try {
    const stream = (await docker().pull(ref, { abortSignal: ac.signal })) as NodeJS.ReadableStream;
    await Promise.race([
      followProgress(stream, (ev) => {
        if (ev.status && !ev.progress) onProgress(`pull ${ref}: ${ev.status}${ev.id ? ` ${ev.id}` : ""}`);
      }),
      new Promise<never>((_, reject) => {
        ac.signal.addEventListener("abort", () => {
          (stream as unknown as { destroy?: () => void }).destroy?.();
          reject(new Error(`no answer within ${PULL_TIMEOUT_MS / 1000}s`));
        });
      }),
    ]);
    return imageExists(ref);
  } catch (e) {
    const msg = (e as { json?: { message?: string }; message?: string }).json?.message ?? (e as Error).message;
    onProgress(`pull ${ref} failed (${msg.trim().split("\n")[0]}); bootstrapping from the Debian mirror instead`);
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** Run a host command with an argv array, forwarding its output line by line. */
export function run(argv: string[], onLine: Progress, what?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    const lines = (buf: { rest: string }, chunk: string) => {
      buf.rest += chunk;
      const parts = buf.rest.split("\n");
      buf.rest = parts.pop() ?? "";
      for (const p of parts) if (p.trim()) onLine(p);
    };
    const o = { rest: "" };
    const er = { rest: "" };
    child.stdout.setEncoding("utf8").on("data", (c: string) => {
      stdout = (stdout + c).slice(-20_000);
      lines(o, c);
    });
    child.stderr.setEncoding("utf8").on("data", (c: string) => {
      stderr = (stderr + c).slice(-20_000);
      lines(er, c);
    });
    child.on("error", (e) => reject(new CommandError(argv, null, stdout, `${stderr}${e.message}`, what)));
    child.on("close", (code) => {
      if (o.rest.trim()) onLine(o.rest);
      if (er.rest.trim()) onLine(er.rest);
      if (code === 0) resolve();
      else reject(new CommandError(argv, code, stdout, stderr, what));
    });
  });
}

/** Pack a directory with the host's tar and import it as an image. */
async function importDir(dir: string, ref: string, onProgress: Progress): Promise<void> {
  const [repo, tag] = ref.split(":");
  // --numeric-owner: ownership inside the rootfs must stay as debootstrap wrote it, whatever the host's names are.
  const argv = ["tar", "--numeric-owner", "-C", dir, "-c", "."];
  const tar = spawn(argv[0], argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  tar.stderr.setEncoding("utf8").on("data", (c: string) => (stderr = (stderr + c).slice(-10_000)));
  const exited = new Promise<number | null>((resolve, reject) => {
    tar.on("error", reject);
    tar.on("close", resolve);
  });
  try {
    const stream = (await (docker().importImage as (src: unknown, opts: unknown) => Promise<unknown>)(tar.stdout, {
      repo,
      tag,
      // The official images' defaults, so a bootstrapped base behaves like a pulled one.
      changes: ["CMD [\"bash\"]", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
    })) as NodeJS.ReadableStream;
    await followProgress(stream, (ev) => {
      if (ev.status && !ev.progress) onProgress(`import ${ref}: ${ev.status}`);
    });
  } catch (e) {
    tar.kill();
    throw engineError(`import ${ref}`, e);
  }
  const code = await exited;
  if (code !== 0) throw new CommandError(argv, code, "", stderr, "tar of the bootstrapped rootfs");
}

/**
 * Trim what a container image never needs: apt's downloaded lists and .debs (re-fetched by every
 * recipe's `apt-get update`) and the man pages/docs. Keeps the imported base close to the official slim size.
 */
async function slimRootfs(dir: string): Promise<void> {
  const wipe = ["var/cache/apt/archives", "var/lib/apt/lists", "usr/share/man", "usr/share/doc", "usr/share/info"];
  for (const rel of wipe) {
    const p = path.join(dir, rel);
    const entries = await fs.readdir(p).catch(() => [] as string[]);
    for (const name of entries) {
      // apt needs these directories and lock files to exist.
      if (name === "partial" || name === "lock") continue;
      await fs.rm(path.join(p, name), { recursive: true, force: true });
    }
  }
  await fs.rm(path.join(dir, "var/cache/apt/pkgcache.bin"), { force: true });
  await fs.rm(path.join(dir, "var/cache/apt/srcpkgcache.bin"), { force: true });
  // Same dpkg excludes as the official slim images, so later package installs stay small too.
  await fs.mkdir(path.join(dir, "etc/dpkg/dpkg.cfg.d"), { recursive: true });
  await fs.writeFile(
    path.join(dir, "etc/dpkg/dpkg.cfg.d/docker"),
    [
      "# Docs and man pages are never read inside a container.",
      "path-exclude /usr/share/doc/*",
      "path-include /usr/share/doc/*/copyright",
      "path-exclude /usr/share/man/*",
      "path-exclude /usr/share/info/*",
      "",
    ].join("\n"),
  );
  await fs.writeFile(
    path.join(dir, "etc/apt/apt.conf.d/docker-clean"),
    [
      "# Downloaded .debs are useless once installed; keep layers small.",
      'DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };',
      'Dir::Cache::pkgcache "";',
      'Dir::Cache::srcpkgcache "";',
      "",
    ].join("\n"),
  );
}

/**
 * debootstrap mounts proc and sys inside the target while it runs and can leave them mounted when
 * it fails; a recursive remove must never walk into those, so unmount first (deepest first).
 */
async function removeRootfs(dir: string): Promise<void> {
  const mounts = await fs.readFile("/proc/self/mounts", "utf8").catch(() => "");
  const inside = mounts
    .split("\n")
    .map((l) => l.split(" ")[1])
    .filter((m): m is string => !!m && m.startsWith(`${dir}/`))
    .sort((a, b) => b.length - a.length);
  for (const m of inside) await run(["umount", "-l", m], () => {}).catch(() => undefined);
  await fs.rm(dir, { recursive: true, force: true });
}

async function bootstrap(suite: Suite, onProgress: Progress): Promise<void> {
  const ref = baseRef(suite);
  if (process.getuid?.() !== 0) {
    throw new AppError(
      "capacity",
      `Base image ${ref} is missing, no registry answered, and bootstrapping it with debootstrap needs root. ` +
        `Run as root once (or load ${ref} with \`docker load\`).`,
      { step: "images" },
    );
  }
  const tmp = await fs.mkdtemp(path.join(process.env.MDIND_BOOTSTRAP_DIR ?? os.tmpdir(), `mdind-${suite}-`));
  const started = Date.now();
  try {
    onProgress(`debootstrap ${suite} from ${mirror()} (a few minutes)`);
    await run(
      ["debootstrap", "--variant=minbase", suite, tmp, mirror()],
      (l) => onProgress(`debootstrap: ${l}`),
      `debootstrap ${suite}`,
    ).catch((e) => {
      if (e instanceof CommandError && e.exitCode === null && /ENOENT/.test(e.stderr)) {
        throw new AppError("capacity", "debootstrap is not installed; run `bash scripts/engine.sh` as root (it installs it).", {
          step: "images",
          cause: e,
        });
      }
      throw e;
    });
    await fs.writeFile(path.join(tmp, "etc/apt/sources.list"), aptSources(suite));
    await slimRootfs(tmp);
    onProgress(`importing ${ref}`);
    await importDir(tmp, ref, onProgress);
    onProgress(`${ref} bootstrapped in ${Math.round((Date.now() - started) / 1000)}s`);
  } finally {
    await removeRootfs(tmp);
  }
}

const inflight = new Map<Suite, Promise<void>>();

/**
 * Make `debian:<suite>-slim` available: reuse it, else pull it, else debootstrap it from the
 * Debian mirror (the offline path). The tag is the same whichever way it came.
 */
export function ensureBase(suite: Suite, onProgress: Progress = () => {}): Promise<void> {
  const running = inflight.get(suite);
  if (running) return running;
  const p = (async () => {
    const ref = baseRef(suite);
    if (await imageExists(ref)) return;
    if (process.env.MDIND_NO_PULL !== "1" && (await tryPull(ref, onProgress))) return;
    await bootstrap(suite, onProgress);
  })().finally(() => inflight.delete(suite));
  inflight.set(suite, p);
  return p;
}
