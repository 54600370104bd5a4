import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { openapiDocument } from "../../edge/openapi";

/**
 * The OpenAPI document against the code: every route.ts under app/api and each HTTP method it
 * exports must be in the document, and the document may name no route that does not exist.
 */
const ROOT = path.resolve(__dirname, "..", "..");
const API = path.join(ROOT, "app", "api", "v1");
const METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];

function walk(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.name === "route.ts" ? [p] : [];
  });
}

/** app/api/v1/instances/[name]/mail/[id]/route.ts → /instances/{name}/mail/{id} */
function pathOf(file: string): string {
  const segs = path.relative(API, path.dirname(file)).split(path.sep).filter((s) => s && !(s.startsWith("(") && s.endsWith(")")));
  return `/${segs.map((s) => s.replace(/^\[(\w+)\]$/, "{$1}")).join("/")}`;
}

/** The methods a route file exports: `export const GET`, `export async function POST`, `export { PUT }`. */
function methodsOf(src: string): string[] {
  const direct = [...src.matchAll(/export\s+(?:const|let|async\s+function|function)\s+([A-Z]+)\b/g)].map((m) => m[1]);
  const listed = [...src.matchAll(/export\s*\{([^}]*)\}/g)].flatMap((m) => m[1].split(",").map((x) => x.trim().split(/\s+as\s+/).pop()!.trim()));
  return [...new Set([...direct, ...listed])].filter((m) => METHODS.includes(m)).sort();
}

type Route = { file: string; path: string; method: string };

function routesInCode(): Route[] {
  return walk(API).flatMap((file) => methodsOf(fs.readFileSync(file, "utf8")).map((method) => ({ file: path.relative(ROOT, file), path: pathOf(file), method })));
}

/** What the code has and the document lacks, and what the document names that the code lacks. */
function compare(routes: Route[], paths: Record<string, Record<string, unknown>>) {
  const documented = new Set(Object.entries(paths).flatMap(([p, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${p}`)));
  const inCode = new Set(routes.map((r) => `${r.method} ${r.path}`));
  return {
    missing: routes.filter((r) => !documented.has(`${r.method} ${r.path}`)).map((r) => `${r.method} ${r.path} (${r.file})`),
    stale: [...documented].filter((k) => !inCode.has(k)),
  };
}

describe("OpenAPI document covers every route", () => {
  const routes = routesInCode();
  const doc = openapiDocument();

  it("lists every route.ts under app/api/v1 and each exported HTTP method, and nothing else", () => {
    expect(routes.length).toBeGreaterThan(40);
    const { missing, stale } = compare(routes, doc.paths);
    expect(missing, `missing from edge/openapi.ts:\n${missing.join("\n")}`).toEqual([]);
    expect(stale, `in edge/openapi.ts without a route:\n${stale.join("\n")}`).toEqual([]);
  });

  it("self-check: a route taken out of the document, or a new route file, is reported", () => {
    const victim = routes.find((r) => r.path === "/import")!;
    const cut = structuredClone(doc.paths) as Record<string, Record<string, unknown>>;
    delete cut[victim.path][victim.method.toLowerCase()];
    expect(compare(routes, cut).missing).toEqual([`POST /import (${victim.file})`]);
    const extra: Route = { file: "app/api/v1/new/[id]/route.ts", path: pathOf(path.join(API, "new", "[id]", "route.ts")), method: "PATCH" };
    expect(compare([...routes, extra], doc.paths).missing).toEqual(["PATCH /new/{id} (app/api/v1/new/[id]/route.ts)"]);
    expect(methodsOf("export const GET = route(x);\nexport async function POST() {}\nexport { h as DELETE };\nexport const dynamic = 'x';")).toEqual(["DELETE", "GET", "POST"]);
  });

  it("each documented operation has a summary and an operationId, and ids are unique", () => {
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops as Record<string, { summary: string; operationId: string }>));
    for (const op of ids) expect(op.summary.length).toBeGreaterThan(5);
    expect(new Set(ids.map((o) => o.operationId)).size).toBe(ids.length);
  });
});
