import fs from "node:fs/promises";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { docker } from "../lib/docker";
import { paths } from "../lib/config";
import { engineError, NotFoundError, ValidationError } from "../lib/errors";
import { writeFileAtomic } from "../lib/lock";
import { imageRef } from "../lib/images/catalog";
import { instanceDir, readRecord } from "./store";
import type { Service } from "./stack";
import { CRON_CONF, checkCronConf } from "./cron";

/**
 * The config editor's back end: only regular files directly inside an instance's config/<svc>-<ver>/
 * folders, addressed as "<dir>/<file>", never through a symlink, at most 256 KiB. Saving runs the
 * service's own checker (nginx -t, apache2 -t, php-fpm -t, php's ini parser) in a throwaway
 * container of the instance's image against the new file, and only writes when it passes.
 */
export const MAX_CONFIG_BYTES = 256 * 1024;
const DIR_RE = /^(php|postgres|mariadb|nginx|apache)-\d{1,2}(\.\d{1,2})?$/;
const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

export interface ConfigFile {
  path: string;
  dir: string;
  file: string;
  size: number;
  service: Service;
  validator: string | null;
}

function serviceOf(dir: string): Service {
  const kind = dir.split("-")[0];
  if (kind === "php") return "app";
  if (kind === "nginx" || kind === "apache") return "web";
  return "db";
}

/** Which services read a config folder, so the UI can offer to restart them. */
export function restartFor(dir: string, file = ""): Service[] {
  const kind = dir.split("-")[0];
  // The cron loop reads cron.conf at every tick.
  if (kind === "php" && file === CRON_CONF) return [];
  if (kind === "php") return ["app", "cron"];
  return [serviceOf(dir)];
}

function validatorName(dir: string, file: string): string | null {
  const kind = dir.split("-")[0];
  if (kind === "nginx" && file.endsWith(".conf")) return "nginx -t";
  if (kind === "apache" && file.endsWith(".conf")) return "apache2 -t";
  if (kind === "php" && file === "fpm.conf") return "php-fpm -t";
  if (kind === "php" && file === CRON_CONF) return "cron.conf parser";
  if (kind === "php" && file.endsWith(".ini")) return "php ini parser";
  return null;
}

/**
 * Mirrors the image's entrypoint (mdind-nginx): the site is linked from /run and the main config
 * is the image's own; both known locations of that main config are tried.
 */
const NGINX_CHECK =
  "ln -sfn /etc/moodle-dind/nginx/site.conf /run/mdind-nginx-site.conf && " +
  "for c in /etc/nginx/mdind.conf /usr/local/share/mdind/nginx.conf /etc/nginx/nginx.conf; do [ -f \"$c\" ] && break; done; " +
  "exec nginx -t -c \"$c\"";

const configRoot = (name: string) => path.join(instanceDir(name), "config");

export async function listConfigFiles(name: string): Promise<ConfigFile[]> {
  await readRecord(name);
  const root = configRoot(name);
  const out: ConfigFile[] = [];
  const dirs = await fs.readdir(root, { withFileTypes: true }).catch(() => []);
  for (const d of dirs) {
    if (!d.isDirectory() || !DIR_RE.test(d.name)) continue;
    for (const f of await fs.readdir(path.join(root, d.name), { withFileTypes: true })) {
      // Dirent.isFile() is false for symlinks: a link planted in the folder is never offered.
      if (!f.isFile() || !FILE_RE.test(f.name)) continue;
      const st = await fs.lstat(path.join(root, d.name, f.name));
      out.push({
        path: `${d.name}/${f.name}`,
        dir: d.name,
        file: f.name,
        size: st.size,
        service: serviceOf(d.name),
        validator: validatorName(d.name, f.name),
      });
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

/** Resolve a (dir, file) pair the listing offers, or refuse. */
async function resolveFile(name: string, dir: string, file: string): Promise<{ abs: string; entry: ConfigFile }> {
  if (!DIR_RE.test(dir)) throw new ValidationError("dir: not a config folder", "dir");
  if (!FILE_RE.test(file)) throw new ValidationError("file: not a config file name", "file");
  const entry = (await listConfigFiles(name)).find((f) => f.dir === dir && f.file === file);
  if (!entry) throw new NotFoundError(`no config file ${dir}/${file}`);
  const abs = path.join(configRoot(name), dir, file);
  const st = await fs.lstat(abs);
  if (!st.isFile()) throw new ValidationError("file: not a regular file", "file");
  const real = await fs.realpath(abs);
  const root = await fs.realpath(configRoot(name));
  if (!real.startsWith(`${root}${path.sep}`)) throw new ValidationError("file: outside the config folder", "file");
  if (st.size > MAX_CONFIG_BYTES) throw new ValidationError(`file: larger than ${MAX_CONFIG_BYTES / 1024} KiB`, "file");
  return { abs, entry };
}

export async function readConfigFile(name: string, dir: string, file: string): Promise<ConfigFile & { content: string }> {
  const { abs, entry } = await resolveFile(name, dir, file);
  return { ...entry, content: await fs.readFile(abs, "utf8") };
}

export interface ValidationResult {
  validator: string | null;
  ok: boolean;
  output: string;
}

/** Run `cmd` in a throwaway container of `image` with `dir` mounted read-only at `mount`. */
async function checkIn(image: string, cmd: string[], dir: string, mount: string, env: string[]): Promise<{ code: number; output: string }> {
  let c;
  try {
    c = await docker().createContainer({
      Image: image,
      Cmd: cmd,
      Env: env,
      Labels: { "org.moodle-dind.kind": "config-check" },
      HostConfig: {
        Binds: [`${dir}:${mount}:ro`],
        // Default bridge, not "none": the engine writes ExtraHosts only for networked containers.
        // Upstream names in site.conf must resolve for `nginx -t`; nothing is ever contacted.
        ExtraHosts: ["app:127.0.0.1", "db:127.0.0.1", "web:127.0.0.1", "cron:127.0.0.1"],
        Memory: 256 * 1024 * 1024,
      },
    });
  } catch (e) {
    throw engineError(`creating a checker from ${image}`, e);
  }
  try {
    await c.start();
    const waited = (await Promise.race([
      c.wait(),
      new Promise((resolve) => setTimeout(() => resolve({ StatusCode: -1 }), 30_000)),
    ])) as { StatusCode: number };
    const raw = (await c.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer;
    return { code: waited.StatusCode, output: demux(raw).trim().slice(-4000) };
  } finally {
    await c.remove({ force: true }).catch(() => undefined);
  }
}

/** Docker's multiplexed log buffer to text (8-byte frame headers). */
function demux(buf: Buffer): string {
  const parts: string[] = [];
  let i = 0;
  while (i + 8 <= buf.length) {
    const len = buf.readUInt32BE(i + 4);
    parts.push(buf.subarray(i + 8, i + 8 + len).toString("utf8"));
    i += 8 + len;
  }
  return i === 0 && buf.length ? buf.toString("utf8") : parts.join("");
}

async function validate(name: string, dir: string, file: string, content: string): Promise<ValidationResult> {
  const validator = validatorName(dir, file);
  if (!validator) return { validator: null, ok: true, output: "" };
  if (file === CRON_CONF) return { validator, ...checkCronConf(content) };
  const rec = await readRecord(name);
  // A copy of the folder with the new file in it, under the data home so the engine can bind it.
  const tmp = path.join(paths.state(), "tmp", `check-${randomBytes(6).toString("hex")}`);
  await fs.mkdir(tmp, { recursive: true });
  try {
    const src = path.join(configRoot(name), dir);
    for (const f of await fs.readdir(src, { withFileTypes: true })) {
      if (f.isFile()) await fs.copyFile(path.join(src, f.name), path.join(tmp, f.name));
    }
    await fs.writeFile(path.join(tmp, file), content);
    await fs.chmod(tmp, 0o755);
    const kind = dir.split("-")[0];
    const env = [`WEB_LISTEN_PORT=${rec.port}`];
    let r: { code: number; output: string };
    if (kind === "nginx") {
      r = await checkIn(imageRef("nginx", rec.spec.web.version),
        ["sh", "-c", NGINX_CHECK],
        tmp, "/etc/moodle-dind/nginx", env);
    } else if (kind === "apache") {
      r = await checkIn(imageRef("apache", rec.spec.web.version),
        ["sh", "-c", ". /etc/apache2/envvars; mkdir -p \"$APACHE_RUN_DIR\" \"$APACHE_LOCK_DIR\" \"$APACHE_LOG_DIR\"; ln -sfn /etc/moodle-dind/apache/site.conf /run/mdind-apache-site.conf && apache2 -t"],
        tmp, "/etc/moodle-dind/apache", env);
    } else if (file === "fpm.conf") {
      r = await checkIn(imageRef("php", rec.spec.php), [`php-fpm${rec.spec.php}`, "-t", "-y", "/etc/moodle-dind/php/fpm.conf"],
        tmp, "/etc/moodle-dind/php", env);
    } else {
      // PHP reports ini syntax errors on startup and carries on; any such line fails the check.
      r = await checkIn(imageRef("php", rec.spec.php), ["php", "-c", `/etc/moodle-dind/php/${file}`, "-r", "exit(0);"],
        tmp, "/etc/moodle-dind/php", env);
      if (r.code === 0 && /syntax error|PHP (Warning|Parse error)/i.test(r.output)) r.code = 1;
    }
    return { validator, ok: r.code === 0, output: r.output };
  } finally {
    await fs.rm(tmp, { recursive: true, force: true });
  }
}

export async function writeConfigFile(
  name: string,
  dir: string,
  file: string,
  content: string,
): Promise<{ saved: boolean; validated: boolean; validator: string | null; output: string; restartSuggested: Service[] }> {
  if (Buffer.byteLength(content) > MAX_CONFIG_BYTES) throw new ValidationError(`content: larger than ${MAX_CONFIG_BYTES / 1024} KiB`, "content");
  if (content.includes("\u0000")) throw new ValidationError("content: contains a NUL byte", "content");
  const { abs } = await resolveFile(name, dir, file);
  const v = await validate(name, dir, file, content);
  if (!v.ok) {
    throw new ValidationError(`content: ${v.validator} rejected the file:\n${v.output}`, "content");
  }
  const st = await fs.stat(abs);
  await writeFileAtomic(abs, content, st.mode & 0o777);
  return { saved: true, validated: v.validator !== null, validator: v.validator, output: v.output, restartSuggested: restartFor(dir, file) };
}
