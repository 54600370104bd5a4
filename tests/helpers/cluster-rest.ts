import fs from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";

/**
 * One REST call for the cluster drill, through the real route handler (app/api/v1/…/route.ts: auth,
 * zod, the service, errors mapped to HTTP) without a dashboard server, in this process's MDIND_HOME:
 *
 *   node --import tsx tests/helpers/cluster-rest.ts METHOD /api/v1/PATH[?query] [--body JSON] [--out FILE]
 *
 * It mints an API token for the call (Bearer, as a script would send it) and revokes it after.
 * Prints one JSON line: {status, body} for a JSON answer, or {status, bytes, type} with the body
 * written to --out (an export archive).
 */
const ROOT = path.resolve(import.meta.dirname, "..", "..");
const API = path.join(ROOT, "app", "api", "v1");

/** The route file for a path, and its [params]: literal folders first, then a [param] folder. */
function resolveRoute(urlPath: string): { file: string; params: Record<string, string> } {
  const segs = urlPath.replace(/^\/api\/v1\/?/, "").split("/").filter(Boolean);
  let dir = API;
  const params: Record<string, string> = {};
  for (const seg of segs) {
    const literal = path.join(dir, seg);
    if (!seg.startsWith("[") && fs.existsSync(literal) && fs.statSync(literal).isDirectory()) {
      dir = literal;
      continue;
    }
    const dyn = fs.readdirSync(dir).find((d) => /^\[\w+\]$/.test(d));
    if (!dyn) throw new Error(`no route for ${urlPath}`);
    params[dyn.slice(1, -1)] = decodeURIComponent(seg);
    dir = path.join(dir, dyn);
  }
  const file = path.join(dir, "route.ts");
  if (!fs.existsSync(file)) throw new Error(`no route for ${urlPath}`);
  return { file, params };
}

const [method, target, ...rest] = process.argv.slice(2);
const opt = (name: string) => {
  const i = rest.indexOf(name);
  return i >= 0 ? rest[i + 1] : undefined;
};
if (!method || !target?.startsWith("/api/v1/")) {
  process.stderr.write("usage: cluster-rest.ts METHOD /api/v1/PATH [--body JSON] [--out FILE]\n");
  process.exit(2);
}
const url = new URL(target, "http://127.0.0.1");
const { file, params } = resolveRoute(url.pathname);
const handler = (await import(pathToFileURL(file).href))[method.toUpperCase()] as (req: Request, ctx: { params: Promise<unknown> }) => Promise<Response>;
if (!handler) throw new Error(`${method} is not a method of ${path.relative(ROOT, file)}`);

const { createToken, revokeToken } = await import("../../services/auth/store");
const tok = await createToken(`cluster-drill-${process.pid}`);
try {
  const body = opt("--body");
  const headers: Record<string, string> = { authorization: `Bearer ${tok.token}`, ...(body ? { "content-type": "application/json" } : {}) };
  const res = await handler(new Request(url, { method: method.toUpperCase(), headers, body }), { params: Promise.resolve(params) });
  const type = res.headers.get("content-type") ?? "";
  const out = opt("--out");
  if (type.includes("json") || !out || !res.body) {
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = JSON.parse(text);
    } catch {
      // Not JSON: the text as it came.
    }
    process.stdout.write(`${JSON.stringify({ status: res.status, body: parsed })}\n`);
  } else {
    await pipeline(Readable.fromWeb(res.body as import("node:stream/web").ReadableStream), fs.createWriteStream(out));
    process.stdout.write(`${JSON.stringify({ status: res.status, bytes: fs.statSync(out).size, type })}\n`);
  }
} finally {
  await revokeToken(tok.id);
}
