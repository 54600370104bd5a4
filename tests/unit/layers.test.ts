import fs from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The floors (docs/architecture.md): each file may import only its own floor or the ones below.
 *   0 ground    lib/, networks/
 *   1 instances instances/
 *   2 services  services/
 *   3 edge      edge/, app/, server.ts, proxy.ts
 * Next and React belong to the edge alone.
 */
const root = path.resolve(import.meta.dirname, "..", "..");
const FLOORS: [prefix: string, floor: number][] = [
  ["lib/", 0],
  ["networks/", 0],
  ["instances/", 1],
  ["services/", 2],
  ["edge/", 3],
  ["app/", 3],
  ["server.ts", 3],
  ["proxy.ts", 3],
];
const NAMES = ["ground", "instances", "services", "edge"];

export function floorOf(rel: string): number | null {
  for (const [p, f] of FLOORS) if (rel === p || rel.startsWith(p)) return f;
  return null;
}

function walk(rel: string, out: string[]): void {
  const abs = path.join(root, rel);
  if (!fs.existsSync(abs)) return;
  if (fs.statSync(abs).isFile()) {
    out.push(rel);
    return;
  }
  for (const e of fs.readdirSync(abs, { withFileTypes: true })) {
    if (e.name === "node_modules" || e.name.startsWith(".")) continue;
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) walk(r, out);
    else if (/\.(ts|tsx)$/.test(e.name)) out.push(r);
  }
}

// Statements only (a line that starts with import/export or closes a multi-line import), plus
// dynamic import(): an import written inside a string (generated code) is not one.
const IMPORT_RE = /^\s*(?:import|export|\})[^"'\n]*?(?:from\s+)?["']([^"'\n]+)["']|(?:\bimport|\brequire)\s*\(\s*["']([^"'\n]+)["']/gm;

/** Repo-relative file an import specifier names, or null for packages and node: built-ins. */
function resolve(from: string, spec: string): string | null {
  let base: string;
  if (spec.startsWith("@/")) base = spec.slice(2);
  else if (spec.startsWith(".")) base = path.posix.normalize(path.posix.join(path.posix.dirname(from), spec));
  else return null;
  for (const ext of ["", ".ts", ".tsx", "/index.ts", "/index.tsx"]) {
    const p = path.join(root, base + ext);
    if (fs.existsSync(p) && fs.statSync(p).isFile()) return base + ext;
  }
  return base;
}

function sources(): string[] {
  const out: string[] = [];
  for (const [p] of FLOORS) walk(p.replace(/\/$/, ""), out);
  return out;
}

function imports(file: string): string[] {
  const text = fs.readFileSync(path.join(root, file), "utf8");
  return [...text.matchAll(IMPORT_RE)].map((m) => m[1] ?? m[2]);
}

describe("floors: imports only go downward", () => {
  const files = sources();

  it("finds the code it checks", () => {
    expect(files.length).toBeGreaterThan(150);
    for (const f of ["lib/docker.ts", "instances/lifecycle.ts", "services/events.ts", "edge/http/edge.ts", "server.ts"]) {
      expect(files).toContain(f);
    }
  });

  it("no file imports a floor above its own", () => {
    const upward: string[] = [];
    for (const f of files) {
      const mine = floorOf(f)!;
      for (const spec of imports(f)) {
        const target = resolve(f, spec);
        if (!target) continue;
        const theirs = floorOf(target);
        if (theirs === null) upward.push(`${f} → ${spec}: outside every floor`);
        else if (theirs > mine) upward.push(`${f} (${NAMES[mine]}) → ${target} (${NAMES[theirs]})`);
      }
    }
    expect(upward).toEqual([]);
  });

  it("Next and React stay at the edge", () => {
    const leaks = files
      .filter((f) => floorOf(f)! < 3)
      .flatMap((f) => imports(f).filter((s) => /^(next|react|react-dom)(\/|$)/.test(s)).map((s) => `${f} → ${s}`));
    expect(leaks).toEqual([]);
  });

  it("the checker itself catches an upward import", () => {
    expect(floorOf("lib/x.ts")).toBe(0);
    expect(floorOf("services/terminal/ws.ts")).toBe(2);
    expect(resolve("lib/docker.ts", "../instances/store")).toBe("instances/store.ts");
    expect(floorOf(resolve("lib/docker.ts", "../instances/store")!)).toBeGreaterThan(floorOf("lib/docker.ts")!);
    expect(resolve("lib/docker.ts", "dockerode")).toBeNull();
  });
});
