import http from "node:http";
import { AppError, ValidationError } from "../lib/errors";
import type { InstanceRecord } from "./store";

/**
 * The blueprint `request` step: one HTTP request to the instance itself and nowhere else. The URL may be
 * a site path ("/admin/index.php") or a full URL on the site's own address (its wwwroot, or Playground's
 * http://localhost:8080); it is always sent to the instance's published port on 127.0.0.1, so a blueprint
 * cannot use this step to reach another host, the engine or the dashboard.
 */
export interface SiteRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
  body?: string;
  expectOk: boolean;
}

const PLAYGROUND_ORIGINS = ["http://localhost:8080", "http://127.0.0.1:8080"];
/** Headers that would change where or how the request goes; the step never sets them from input. */
const REFUSED_HEADERS = new Set(["host", "connection", "content-length", "transfer-encoding", "upgrade", "proxy-authorization", "expect"]);
const TIMEOUT_MS = 120_000;
const MAX_BODY_SHOWN = 200;

/** The path (with query) to request on the instance; anything that is not the instance is refused. */
export function sitePathOf(rec: Pick<InstanceRecord, "url" | "port">, url: string): string {
  if (url.startsWith("/") && !url.startsWith("//")) {
    if (/[\s\\]/.test(url)) throw new ValidationError(`request: ${JSON.stringify(url)} is not a clean site path`);
    return url;
  }
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ValidationError(`request: ${JSON.stringify(url.slice(0, 200))} is neither a site path nor a URL`);
  }
  const own = new URL(rec.url);
  const allowed = [own.origin, `http://127.0.0.1:${rec.port}`, `http://localhost:${rec.port}`, ...PLAYGROUND_ORIGINS];
  if (u.username || u.password || !allowed.includes(u.origin)) {
    throw new ValidationError(`request: ${u.origin} is not this instance (${own.origin}); a blueprint request only reaches the instance itself`);
  }
  return `${u.pathname}${u.search}`;
}

export async function siteRequest(rec: InstanceRecord, req: SiteRequest): Promise<{ changed: boolean; detail: string }> {
  const pathname = sitePathOf(rec, req.url);
  const headers: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers ?? {})) {
    if (REFUSED_HEADERS.has(k.toLowerCase())) throw new ValidationError(`request: header '${k}' cannot be set by a blueprint`);
    headers[k] = v;
  }
  const body = req.body !== undefined && req.method !== "GET" && req.method !== "HEAD" ? Buffer.from(req.body) : undefined;
  if (body) headers["content-length"] = String(body.length);
  const own = new URL(rec.url);
  const res = await new Promise<{ status: number; text: string }>((resolve, reject) => {
    const r = http.request(
      // Host carries the site's own name so Moodle answers as it would to a browser; the socket is loopback only.
      { host: "127.0.0.1", port: rec.port, method: req.method, path: pathname, timeout: TIMEOUT_MS, headers: { ...headers, host: own.host } },
      (response) => {
        let text = "";
        response.setEncoding("utf8");
        response.on("data", (d: string) => {
          if (text.length < 4096) text += d;
        });
        response.on("end", () => resolve({ status: response.statusCode ?? 0, text }));
      },
    );
    r.on("timeout", () => r.destroy(new AppError("command", `request ${req.method} ${pathname} took longer than ${TIMEOUT_MS / 1000} s`)));
    r.on("error", reject);
    r.end(body);
  });
  if (req.expectOk && res.status >= 400) {
    throw new AppError("command", `request ${req.method} ${pathname} returned ${res.status}: ${res.text.slice(0, MAX_BODY_SHOWN)}`);
  }
  // The step cannot know what a URL changes on the site; it reports the request, not a change.
  return { changed: false, detail: `${req.method} ${pathname} → ${res.status} (sent every run; what it changes is up to the page)` };
}
