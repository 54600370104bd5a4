import { createHash } from "node:crypto";
import { ValidationError } from "../errors";

/**
 * A strict JSON reader of our own instead of JSON.parse, because we want three things JSON.parse does not
 * give us on every Node version: the line:column of a syntax error, a nesting limit (everything downstream
 * walks values recursively, so unbounded depth would be a stack overflow instead of a ValidationError), and
 * refusal of duplicate keys (two readers of the same file that pick different duplicates is how policy
 * checks get bypassed).
 */

export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

export const DEFAULT_MAX_DEPTH = 64;

/** Property assignment that cannot touch the prototype, even for a key named "__proto__". */
function defineKey(obj: JsonObject, key: string, value: JsonValue): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

export function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      lineStart = i + 1;
    }
  }
  return { line, column: offset - lineStart + 1 };
}

const NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

export function parseJson(text: string, opts: { maxDepth?: number; what?: string } = {}): JsonValue {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const what = opts.what ?? "JSON";
  let pos = 0;

  const fail = (message: string, at = pos): never => {
    const { line, column } = lineColumn(text, at);
    throw new ValidationError(`Invalid ${what} at line ${line}, column ${column}: ${message}`);
  };
  const describe = (at: number): string => {
    if (at >= text.length) return "unexpected end of input";
    const ch = text[at];
    return `unexpected character ${JSON.stringify(ch)}`;
  };
  const skipWs = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };

  const parseString = (): string => {
    // Caller guarantees text[pos] === '"'.
    pos++;
    let out = "";
    for (;;) {
      let i = pos;
      while (i < text.length) {
        const c = text.charCodeAt(i);
        if (c === 0x22 || c === 0x5c || c < 0x20) break;
        i++;
      }
      out += text.slice(pos, i);
      pos = i;
      if (pos >= text.length) fail("unterminated string");
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        pos++;
        return out;
      }
      if (c < 0x20) fail("control character in string (escape it)");
      pos++; // backslash
      const e = text[pos];
      switch (e) {
        case '"': out += '"'; break;
        case "\\": out += "\\"; break;
        case "/": out += "/"; break;
        case "b": out += "\b"; break;
        case "f": out += "\f"; break;
        case "n": out += "\n"; break;
        case "r": out += "\r"; break;
        case "t": out += "\t"; break;
        case "u": {
          const hex = text.slice(pos + 1, pos + 5);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail("invalid \\u escape");
          out += String.fromCharCode(Number.parseInt(hex, 16));
          pos += 4;
          break;
        }
        default:
          fail(e === undefined ? "unterminated string" : `invalid escape \\${e}`);
      }
      pos++;
    }
  };

  const parseValue = (depth: number): JsonValue => {
    skipWs();
    if (pos >= text.length) fail("unexpected end of input");
    const ch = text[pos];
    if (ch === "{" || ch === "[") {
      if (depth >= maxDepth) fail(`nesting deeper than ${maxDepth} levels`);
    }
    if (ch === "{") {
      pos++;
      const obj: JsonObject = {};
      const seen = new Set<string>();
      skipWs();
      if (text[pos] === "}") {
        pos++;
        return obj;
      }
      for (;;) {
        skipWs();
        if (text[pos] !== '"') fail(pos >= text.length ? "unexpected end of input" : `expected a property name in double quotes, got ${JSON.stringify(text[pos])}`);
        const keyAt = pos;
        const key = parseString();
        if (seen.has(key)) fail(`duplicate key ${JSON.stringify(key)}`, keyAt);
        seen.add(key);
        skipWs();
        if (text[pos] !== ":") fail(`expected ':' after property name, ${describe(pos)}`);
        pos++;
        defineKey(obj, key, parseValue(depth + 1));
        skipWs();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "}") {
          pos++;
          return obj;
        }
        fail(`expected ',' or '}', ${describe(pos)}`);
      }
    }
    if (ch === "[") {
      pos++;
      const arr: JsonValue[] = [];
      skipWs();
      if (text[pos] === "]") {
        pos++;
        return arr;
      }
      for (;;) {
        arr.push(parseValue(depth + 1));
        skipWs();
        if (text[pos] === ",") {
          pos++;
          continue;
        }
        if (text[pos] === "]") {
          pos++;
          return arr;
        }
        fail(`expected ',' or ']', ${describe(pos)}`);
      }
    }
    if (ch === '"') return parseString();
    if (text.startsWith("true", pos)) {
      pos += 4;
      return true;
    }
    if (text.startsWith("false", pos)) {
      pos += 5;
      return false;
    }
    if (text.startsWith("null", pos)) {
      pos += 4;
      return null;
    }
    NUMBER_RE.lastIndex = pos;
    const m = NUMBER_RE.exec(text);
    if (m) {
      const n = Number(m[0]);
      if (!Number.isFinite(n)) fail("number out of range");
      pos += m[0].length;
      return n;
    }
    return fail(describe(pos));
  };

  // A UTF-8 BOM is common in files saved by Windows editors; it is not content.
  if (text.charCodeAt(0) === 0xfeff) pos = 1;
  skipWs();
  if (pos >= text.length) throw new ValidationError(`Invalid ${what}: the document is empty`);
  const value = parseValue(0);
  skipWs();
  if (pos < text.length) fail(`unexpected content after the end of the document`);
  return value;
}

/**
 * Check that an in-memory value is plain JSON data (no functions, undefined, NaN, class instances or
 * cycles) and return a fresh copy, so objects handed to the parser by code are held to the same rules
 * as text.
 */
export function toJsonValue(value: unknown, opts: { maxDepth?: number; path?: string } = {}): JsonValue {
  const maxDepth = opts.maxDepth ?? DEFAULT_MAX_DEPTH;
  const walk = (v: unknown, depth: number, path: string): JsonValue => {
    if (v === null || typeof v === "boolean" || typeof v === "string") return v;
    if (typeof v === "number") {
      if (!Number.isFinite(v)) throw new ValidationError(`${path}: numbers must be finite`, path);
      return v;
    }
    if (typeof v !== "object") throw new ValidationError(`${path}: ${typeof v} is not a JSON value`, path);
    if (depth >= maxDepth) throw new ValidationError(`${path}: nesting deeper than ${maxDepth} levels`, path);
    if (Array.isArray(v)) return v.map((item, i) => walk(item, depth + 1, `${path}[${i}]`));
    const proto = Object.getPrototypeOf(v);
    if (proto !== Object.prototype && proto !== null) {
      throw new ValidationError(`${path}: only plain objects are JSON values`, path);
    }
    const out: JsonObject = {};
    for (const key of Object.keys(v)) {
      const item = (v as Record<string, unknown>)[key];
      if (item === undefined) continue;
      defineKey(out, key, walk(item, depth + 1, `${path}.${key}`));
    }
    return out;
  };
  return walk(value, 0, opts.path ?? "$");
}

export function isJsonObject(v: unknown): v is JsonObject {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Canonical JSON: object keys sorted by code unit, no whitespace, undefined members dropped. Two documents
 * that differ only in key order or formatting serialise identically, which is what makes the hash stable.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value === "boolean" || typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number") {
    if (!Number.isFinite(value)) throw new ValidationError("cannot hash a non-finite number");
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? "null" : canonicalJson(v))).join(",")}]`;
  if (typeof value === "object") {
    const keys = Object.keys(value).sort();
    const parts: string[] = [];
    for (const key of keys) {
      const v = (value as Record<string, unknown>)[key];
      if (v === undefined) continue;
      parts.push(`${JSON.stringify(key)}:${canonicalJson(v)}`);
    }
    return `{${parts.join(",")}}`;
  }
  throw new ValidationError(`cannot hash a ${typeof value}`);
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
