import path from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseBlueprint, safeRelativePath } from "../../lib/blueprint";
import { STEP_REGISTRY } from "../../lib/blueprint/steps";
import { ValidationError } from "../../lib/errors";
import { phpString } from "../../instances/render";
import { createInputSchema, parseCreateInput, resolveSpec, MOODLE_BRANCHES } from "../../instances/spec";
import { NAME_RE, validateName } from "../../lib/names";

/**
 * Property-based fuzzing of the parsers that face user input: the blueprint parser, the archive
 * path check, the PHP string renderer used for config.php, and the name/version validators.
 * CI runs a short pass; bench/fuzz.ts runs the same properties longer (MDIND_FUZZ_RUNS).
 */
const RUNS = Number.parseInt(process.env.MDIND_FUZZ_RUNS ?? "300", 10);
const SEED = process.env.MDIND_FUZZ_SEED ? Number(process.env.MDIND_FUZZ_SEED) : undefined;
const opts = { numRuns: RUNS, seed: SEED };

/** Strings that mix what attackers send: traversal, separators, NUL and control bytes, quotes, unicode. */
const hostileString = fc.oneof(
  fc.string({ unit: "binary", maxLength: 80 }),
  fc.array(fc.constantFrom("..", ".", "", "/", "\\", "a", "b.txt", "\u0000", "\n", "C:", "%2e%2e", "'", "\\'", "名", "😀", "$(id)"), { maxLength: 12 }).map((a) => a.join("")),
  fc.array(fc.constantFrom("..", ".", "a", "bb", ""), { maxLength: 10 }).map((a) => a.join("/")),
);

function onlyValidationErrors(fn: () => unknown): boolean {
  try {
    fn();
    return true;
  } catch (e) {
    if (e instanceof ValidationError) return true;
    throw e;
  }
}

describe("fuzz: archive paths (safeRelativePath)", () => {
  it("accepts only paths that stay inside their root, refuses the rest with a ValidationError", () => {
    const root = "/srv/bundle";
    fc.assert(
      fc.property(hostileString, (input) => {
        let out: string;
        try {
          out = safeRelativePath(input);
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError);
          return;
        }
        expect(out.length).toBeGreaterThan(0);
        expect(out.startsWith("/")).toBe(false);
        expect(out.split("/")).not.toContain("..");
        expect(out).not.toMatch(/[\u0000-\u001f\u007f\\]/);
        const abs = path.resolve(root, out);
        expect(abs.startsWith(`${root}/`)).toBe(true);
        // Normal form: checking it again changes nothing.
        expect(safeRelativePath(out)).toBe(out);
      }),
      opts,
    );
  });
});

describe("fuzz: blueprint parser", () => {
  const stepNames = [...STEP_REGISTRY.keys()];
  const jsonValue = fc.jsonValue({ maxDepth: 3 });
  const step = fc.record(
    { step: fc.oneof(fc.constantFrom(...stepNames), fc.string({ maxLength: 12 })) },
    { requiredKeys: ["step"] },
  ).chain((s) => fc.dictionary(fc.constantFrom("name", "path", "value", "username", "password", "component", "url", "type", "course"), jsonValue, { maxKeys: 4 }).map((extra) => ({ ...extra, ...s })));
  const blueprint = fc.record({
    steps: fc.oneof(fc.array(step, { maxLength: 6 }), jsonValue),
    constants: fc.option(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 20 }), { maxKeys: 3 }), { nil: undefined }),
    preferredVersions: fc.option(fc.dictionary(fc.constantFrom("php", "moodle", "x"), jsonValue, { maxKeys: 2 }), { nil: undefined }),
  }, { requiredKeys: [] });

  it("never fails with anything but a ValidationError, and its normal form is a fixed point", () => {
    fc.assert(
      fc.property(fc.oneof(blueprint, jsonValue), (doc) => {
        let parsed: ReturnType<typeof parseBlueprint> | null = null;
        expect(onlyValidationErrors(() => (parsed = parseBlueprint(doc)))).toBe(true);
        if (parsed) {
          const again = parseBlueprint((parsed as ReturnType<typeof parseBlueprint>).normalized);
          expect(again.normalized).toEqual((parsed as ReturnType<typeof parseBlueprint>).normalized);
        }
      }),
      opts,
    );
  });

  it("raw text input: malformed JSON is a ValidationError, never a crash", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 200 }), fc.json().map((j) => j.slice(0, Math.max(1, j.length - 1)))), (text) => {
        expect(onlyValidationErrors(() => parseBlueprint(text))).toBe(true);
      }),
      opts,
    );
  });
});

describe("fuzz: config rendering (phpString)", () => {
  it("the rendered PHP literal has no unescaped quote and decodes back to the input", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 120 }), (s) => {
        const out = phpString(s);
        expect(out.startsWith("'") && out.endsWith("'")).toBe(true);
        const body = out.slice(1, -1);
        // Walk PHP's single-quoted rules: "\\" and "\'" are escapes; a bare quote would end the string.
        let decoded = "";
        for (let i = 0; i < body.length; i++) {
          const c = body[i];
          if (c === "\\" && (body[i + 1] === "\\" || body[i + 1] === "'")) {
            decoded += body[++i];
            continue;
          }
          expect(c).not.toBe("'");
          decoded += c;
        }
        expect(decoded).toBe(s);
      }),
      opts,
    );
  });
});

describe("fuzz: name and version validators", () => {
  it("validateName accepts exactly the documented names", () => {
    fc.assert(
      fc.property(fc.oneof(hostileString, fc.stringMatching(/^[a-z][a-z0-9-]{0,40}$/)), (name) => {
        let ok = true;
        try {
          validateName(name);
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError);
          ok = false;
        }
        expect(ok).toBe(NAME_RE.test(name) && name.length <= 32);
      }),
      opts,
    );
  });

  it("resolveSpec yields only combinations from the compatibility table, or a ValidationError", () => {
    const version = fc.oneof(fc.constantFrom("7.4", "8.2", "8.4", "8.1", "13", "15", "17", "10.5", "10.11", "11.8", "1.18", "1.22", "1.26", "2.4"), fc.string({ maxLength: 8 }));
    const input = fc.record({
      name: fc.oneof(fc.constant("fuzz-x"), hostileString),
      moodle: fc.oneof(fc.constantFrom(...MOODLE_BRANCHES.map((b) => b.branch), "auto"), fc.string({ maxLength: 6 })),
      php: fc.option(version, { nil: undefined }),
      db: fc.oneof(fc.constantFrom("postgres", "mariadb"), version.map((v) => `postgres:${v}`), version.map((v) => `mariadb:${v}`), fc.string({ maxLength: 12 })),
      web: fc.oneof(fc.constantFrom("nginx", "apache"), fc.string({ maxLength: 6 })),
      webVersion: fc.option(version, { nil: undefined }),
    }, { requiredKeys: ["name"] });
    fc.assert(
      fc.property(input, (raw) => {
        let spec: ReturnType<typeof resolveSpec>;
        try {
          spec = resolveSpec(parseCreateInput(raw), "5.1");
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError);
          return;
        }
        expect(createInputSchema.safeParse(raw).success).toBe(true);
        const b = MOODLE_BRANCHES.find((x) => x.branch === spec.moodle)!;
        expect(b).toBeDefined();
        expect(b.php).toContain(spec.php);
        expect(spec.db.engine === "postgres" ? b.postgres : b.mariadb).toContain(spec.db.version);
        expect(NAME_RE.test(spec.name)).toBe(true);
      }),
      opts,
    );
  });
});
