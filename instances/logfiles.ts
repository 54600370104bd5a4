import fsp from "node:fs/promises";
import path from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { instanceDir, readRecord } from "./store";
import type { Service } from "./stack";
import { NotFoundError } from "../lib/errors";
import { openFileInside } from "../lib/nofollow";

/**
 * The services write their real logs to files under logs/<svc>-<ver>/ (fpm.log, access.log,
 * cron.log …); container output is nearly empty. This lists those files per service and tails one,
 * following by polling its size (cheap, works on any filesystem, survives truncation/rotation).
 * The containers write those folders, so a log file could be swapped for a link to a host file at
 * any time: every open, the first and each one while following, refuses links (lib/nofollow) and
 * sizes come from the opened file, never from a second lookup by name.
 */
export interface LogFile {
  service: Service;
  path: string;
  file: string;
  size: number;
  mtime: string;
}

const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

function serviceOfDir(dir: string): Service | null {
  const kind = dir.split("-")[0];
  if (kind === "php") return "app";
  if (kind === "cron") return "cron";
  if (kind === "nginx" || kind === "apache") return "web";
  if (kind === "postgres" || kind === "mariadb") return "db";
  return null;
}

export async function listLogFiles(name: string): Promise<LogFile[]> {
  await readRecord(name);
  const root = path.join(instanceDir(name), "logs");
  const out: LogFile[] = [];
  for (const d of await fsp.readdir(root, { withFileTypes: true }).catch(() => [])) {
    const service = d.isDirectory() ? serviceOfDir(d.name) : null;
    if (!service) continue;
    for (const f of await fsp.readdir(path.join(root, d.name), { withFileTypes: true }).catch(() => [])) {
      if (!f.isFile() || !FILE_RE.test(f.name) || f.name.endsWith(".json")) continue;
      const st = await fsp.lstat(path.join(root, d.name, f.name));
      out.push({ service, path: `${d.name}/${f.name}`, file: f.name, size: st.size, mtime: st.mtime.toISOString() });
    }
  }
  return out.sort((a, b) => a.path.localeCompare(b.path));
}

const TAIL_WINDOW = 1024 * 1024;

/** Last `tail` lines of a listed log file, then (with follow) whatever is appended. */
export async function tailLogFile(name: string, rel: string, opts: { tail: number; follow: boolean }): Promise<Readable> {
  const entry = (await listLogFiles(name)).find((f) => f.path === rel);
  if (!entry) throw new NotFoundError(`no log file ${rel}`);
  const logsRoot = path.join(instanceDir(name), "logs");
  const out = new PassThrough();
  const fh = await openFileInside(logsRoot, rel, "r");
  const st = await fh.stat();
  const start = Math.max(0, st.size - TAIL_WINDOW);
  try {
    const buf = Buffer.alloc(st.size - start);
    await fh.read(buf, 0, buf.length, start);
    let lines = buf.toString("utf8").split("\n");
    if (start > 0) lines = lines.slice(1);
    if (lines[lines.length - 1] === "") lines.pop();
    const kept = opts.tail > 0 ? lines.slice(-opts.tail) : [];
    if (kept.length) out.write(`${kept.join("\n")}\n`);
  } finally {
    await fh.close();
  }
  if (!opts.follow) {
    out.end();
    return out;
  }
  let pos = st.size;
  let reading = false;
  const timer = setInterval(async () => {
    if (reading) return;
    reading = true;
    try {
      // Re-opened by name each time, so a rotated file is followed to its new self.
      const h = await openFileInside(logsRoot, rel, "r");
      try {
        const now = await h.stat();
        if (now.size < pos) pos = 0; // truncated or rotated: start over
        if (now.size > pos) {
          const len = Math.min(now.size - pos, TAIL_WINDOW);
          const b = Buffer.alloc(len);
          const { bytesRead } = await h.read(b, 0, len, pos);
          pos += bytesRead;
          out.write(b.subarray(0, bytesRead));
        }
      } finally {
        await h.close();
      }
    } catch {
      // The file went away (instance removed) or became a link: stop following.
      out.end();
    } finally {
      reading = false;
    }
  }, 1000);
  const stop = () => clearInterval(timer);
  out.on("close", stop);
  out.on("finish", stop);
  return out;
}
