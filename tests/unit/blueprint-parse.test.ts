import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ValidationError } from "@/lib/errors";
import { blueprintHash, canonicalJson, parseBlueprint, stepNames, STEP_REGISTRY } from "@/lib/blueprint";

function bp(obj: unknown): string {
  return JSON.stringify(obj, null, 2);
}

function parseError(input: unknown, opts?: Parameters<typeof parseBlueprint>[1]): ValidationError {
  try {
    parseBlueprint(input, opts);
  } catch (e) {
    expect(e).toBeInstanceOf(ValidationError);
    return e as ValidationError;
  }
  throw new Error("expected parseBlueprint to throw");
}

describe("blueprint JSON syntax", () => {
  it("reports line and column of a syntax error", () => {
    const text = '{\n  "steps": [\n    { "step": "login", }\n  ]\n}';
    expect(parseError(text).message).toMatch(/line 3, column 24: expected a property name/);
  });

  it("reports an unterminated document and trailing garbage", () => {
    expect(parseError('{"steps": [').message).toMatch(/line 1, column 12: unexpected end of input/);
    expect(parseError('{"steps": []} x').message).toMatch(/line 1, column 15/);
    expect(parseError("").message).toMatch(/empty/);
  });

  it("refuses duplicate keys, with their position", () => {
    expect(parseError('{"steps": [],\n "steps": []}').message).toMatch(/line 2, column 2: duplicate key "steps"/);
  });

  it("refuses nesting deep enough to blow the stack", () => {
    const deep = `{"steps": [], "x": ${"[".repeat(5000)}${"]".repeat(5000)}}`;
    expect(parseError(deep).message).toMatch(/nesting deeper/);
  });

  it("accepts a BOM and keeps a __proto__ key as data", () => {
    const p = parseBlueprint('\uFEFF{"steps": [], "__proto__": {"polluted": true}}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.hasOwn(p.normalized, "__proto__")).toBe(true);
  });
});

describe("blueprint structure", () => {
  it("requires a steps array of objects with a non-empty step name", () => {
    expect(parseError("[]").message).toMatch(/must be a JSON object/);
    expect(parseError(bp({})).message).toMatch(/no 'steps' array/);
    expect(parseError(bp({ steps: {} })).message).toMatch(/'steps' must be an array/);
    expect(parseError(bp({ steps: ["login"] })).message).toMatch(/step 1: must be an object/);
    expect(parseError(bp({ steps: [{ step: "" }] })).message).toMatch(/step 1: needs a non-empty string 'step'/);
    expect(parseError(bp({ steps: [{ step: 42 }] })).message).toMatch(/step 1: needs a non-empty string 'step'/);
  });

  it("names the index and name of an unknown step", () => {
    const e = parseError(bp({ steps: [{ step: "login" }, { step: "setConfig", name: "a" }, { step: "fooBar" }] }));
    expect(e.message).toBe("step 3: unknown step 'fooBar'");
    expect(e.field).toBe("steps[2]");
  });

  it("refuses recognised steps we do not implement instead of skipping them", () => {
    expect(parseError(bp({ steps: [{ step: "installLanguagePack", language: "es" }] })).message).toMatch(
      /step 1 \(installLanguagePack\): 'installLanguagePack' is a Moodle Playground step that moodle-dind does not implement yet/,
    );
  });

  it("warns about unknown fields instead of dropping them silently or refusing the blueprint", () => {
    const p = parseBlueprint(
      bp({ runtime: { debug: 0 }, extra: 1, steps: [{ step: "createUser", username: "a", pasword: "x" }, { step: "createUsers", users: [{ username: "b", colour: "red" }] }] }),
    );
    expect(p.steps[0].args).not.toHaveProperty("pasword");
    expect(p.warnings).toEqual([
      "top-level field 'extra' is not a blueprint field; ignored",
      expect.stringMatching(/^'runtime' is not applied/),
      "step 1 (createUser): unknown field 'pasword' ignored",
      "step 2 (createUsers): unknown field 'users[0].colour' ignored",
    ]);
    // The hash is of what runs: an ignored field does not make a new blueprint.
    expect(blueprintHash(p)).toBe(blueprintHash(parseBlueprint(bp({ runtime: { debug: 0 }, extra: 1, steps: [{ step: "createUser", username: "a" }, { step: "createUsers", users: [{ username: "b" }] }] }))));
  });

  it("keeps unknown top-level fields and exposes hints", () => {
    const p = parseBlueprint(
      bp({ $schema: "https://example/schema.json", meta: { a: 1 }, preferredVersions: { php: "8.3", moodle: "5.0" }, landingPage: "/my/", steps: [] }),
    );
    expect(p.normalized.$schema).toBe("https://example/schema.json");
    expect(p.normalized.meta).toEqual({ a: 1 });
    expect(p.normalized.constants).toBeUndefined();
    expect(p.hints).toEqual({ preferredVersions: { php: "8.3", moodle: "5.0" }, landingPage: "/my/" });
  });

  it("refuses a landing page that is not a site-relative path", () => {
    expect(parseError(bp({ steps: [], landingPage: "https://evil.example/" })).message).toMatch(/landingPage/);
    expect(parseError(bp({ steps: [], landingPage: "//evil.example/" })).message).toMatch(/landingPage/);
  });

  it("setLandingPage overrides the landingPage hint", () => {
    const p = parseBlueprint(bp({ landingPage: "/", steps: [{ step: "setLandingPage", path: "/course/view.php?id=2" }] }));
    expect(p.hints.landingPage).toBe("/course/view.php?id=2");
    expect(p.steps[0].class).toBe("noop");
  });

  it("accepts an already-parsed object and rejects non-JSON values in it", () => {
    expect(parseBlueprint({ steps: [{ step: "login" }] }).steps).toHaveLength(1);
    expect(parseError({ steps: [{ step: "login", x: () => 1 }] }).message).toMatch(/not a JSON value/);
    expect(parseError({ steps: [], n: Number.NaN }).message).toMatch(/finite/);
  });

  it("prefixes messages with the source name", () => {
    expect(parseError("{", { source: "demo/blueprint.json" }).message).toMatch(/^demo\/blueprint\.json: Invalid blueprint JSON/);
  });
});

describe("constants", () => {
  it("substitutes {{KEY}} recursively in step strings", () => {
    const p = parseBlueprint(
      bp({
        constants: { CAT: "Science", N: 3, ON: true },
        steps: [
          { step: "createCategory", name: "{{CAT}} dept", description: "All {{ CAT }} courses" },
          { step: "setConfigs", configs: [{ name: "x", value: "{{N}}" }, { name: "y", value: "{{ON}}" }] },
        ],
      }),
    );
    expect(p.steps[0].args).toMatchObject({ name: "Science dept", description: "All Science courses" });
    expect(p.steps[1].args).toEqual({ configs: [{ name: "x", value: "3" }, { name: "y", value: "true" }] });
  });

  it("names an unknown constant", () => {
    const e = parseError(bp({ constants: { A: "1" }, steps: [{ step: "createUser", username: "u1", password: "{{ADMIN_PASWORD}}" }] }));
    expect(e.message).toMatch(/step 1 \(createUser\): unknown constant '\{\{ADMIN_PASWORD\}\}' \(defined: A\)/);
  });

  it("does not expand constants inside constant values", () => {
    const p = parseBlueprint(bp({ constants: { A: "{{B}}", B: "x" }, steps: [{ step: "setConfig", name: "a", value: "{{A}}" }] }));
    expect(p.steps[0].args.value).toBe("{{B}}");
  });

  it("validates constants", () => {
    expect(parseError(bp({ constants: [], steps: [] })).message).toMatch(/'constants' must be an object/);
    expect(parseError(bp({ constants: { "a-b": "x" }, steps: [] })).message).toMatch(/constant name 'a-b'/);
    expect(parseError(bp({ constants: { A: { x: 1 } }, steps: [] })).message).toMatch(/constant 'A' must be/);
  });
});

describe("resource references", () => {
  it("resolves @name to the declared descriptor", () => {
    const p = parseBlueprint(
      bp({
        resources: { theme: { bundled: "./plugins/theme_x.zip" }, note: { literal: "hello" } },
        steps: [
          { step: "installTheme", data: "@theme" },
          { step: "writeFile", path: "/www/moodle/local/note.txt", data: "@note" },
        ],
      }),
      { policy: { allowUnsafe: true } },
    );
    expect(p.steps[0].args.data).toEqual({ bundled: "plugins/theme_x.zip" });
    expect(p.steps[1].args).toEqual({ path: "/www/moodle/local/note.txt", data: { literal: "hello" } });
  });

  it("names an unknown reference and the declared ones", () => {
    const e = parseError(bp({ resources: { a: { literal: "x" } }, steps: [{ step: "restoreCourse", data: "@backup" }] }));
    expect(e.message).toMatch(/step 1 \(restoreCourse\): 'data': unknown resource reference '@backup' \(declared: @a\)/);
  });

  it("leaves @ in ordinary text alone", () => {
    const p = parseBlueprint(bp({ steps: [{ step: "createCourse", fullname: "@home", shortname: "H1", summary: "@everyone" }] }));
    expect(p.steps[0].args).toMatchObject({ fullname: "@home", summary: "@everyone" });
  });

  it("accepts the WordPress Playground resource shape", () => {
    const p = parseBlueprint(bp({ resources: { r: { resource: "bundled", path: "a.mbz" } }, steps: [{ step: "restoreCourse", data: "@r" }] }));
    expect(p.steps[0].args.data).toEqual({ bundled: "a.mbz" });
  });

  it("refuses escaping bundled paths and malformed descriptors", () => {
    expect(parseError(bp({ resources: { r: { bundled: "../../etc/passwd" } }, steps: [] })).message).toMatch(/climbs out/);
    expect(parseError(bp({ resources: { r: { bundled: "/etc/passwd" } }, steps: [] })).message).toMatch(/absolute/);
    expect(parseError(bp({ resources: { r: { bundled: "a\\..\\b" } }, steps: [] })).message).toMatch(/backslash/);
    expect(parseError(bp({ resources: { r: { bundled: "a\u0000b" } }, steps: [] })).message).toMatch(/control character/);
    expect(parseError(bp({ resources: { r: { literal: "x", base64: "eA==" } }, steps: [] })).message).toMatch(/exactly one source key/);
    expect(parseError(bp({ resources: { r: { base64: "not base64!" } }, steps: [] })).message).toMatch(/not valid base64/);
  });
});

describe("step arguments", () => {
  const one = (step: Record<string, unknown>, opts?: Parameters<typeof parseBlueprint>[1]) => parseBlueprint(bp({ steps: [step] }), opts).steps[0];

  it("applies Playground defaults", () => {
    expect(one({ step: "createUser", username: "teacher1" }).args).toEqual({
      username: "teacher1",
      email: "teacher1@example.com",
      firstname: "teacher1",
      lastname: "User",
      auth: "manual",
      suspended: false,
    });
    expect(one({ step: "enrolUser", username: "a", course: "C1" }).args.role).toBe("student");
    expect(one({ step: "createCourse", fullname: "F", shortname: "S" }).args).toMatchObject({ format: "topics", numsections: 5, visible: true });
    expect(one({ step: "setConfig", name: "enablebadges", value: true }).args).toEqual({ name: "enablebadges", value: "1" });
  });

  it("allowlists shapes", () => {
    expect(() => one({ step: "createUser", username: "Bad User" })).toThrow(/step 1 \(createUser\): 'username' may only contain lowercase/);
    expect(() => one({ step: "setConfig", name: "bad-name" })).toThrow(/'name' may only contain letters, digits and _/);
    expect(() => one({ step: "setConfig", name: "x", plugin: "Theme Boost" })).toThrow(/'plugin'/);
    expect(() => one({ step: "installMoodlePlugin", data: { base64: "eA==" }, component: "Local-Foo" })).toThrow(/'component' must be a frankenstyle/);
    expect(() => one({ step: "createCourse", fullname: "x".repeat(300), shortname: "S" })).toThrow(/'fullname' must be at most 254/);
    expect(() => one({ step: "createCourse", fullname: "F", shortname: "<script>" })).toThrow(/'shortname' may only contain/);
    expect(() => one({ step: "createUser" })).toThrow(/'username' is required/);
    expect(() => one({ step: "createUsers", users: [{ username: "ok" }, { username: "NO" }] })).toThrow(/'users\[1\].username'/);
  });

  it("passes addModule's module fields through for Moodle to check, and checks their shape", () => {
    expect(one({ step: "addModule", module: "page", course: "C1", name: "P", content: "<p>x</p>" }).args).toEqual({ module: "page", course: "C1", section: 0, intro: "", name: "P", content: "<p>x</p>" });
    expect(one({ step: "addModule", module: "quiz", course: "C1", name: "Q", grade: 10, browsersecurity: "-", password: "" }).args).toMatchObject({ grade: 10, browsersecurity: "-", password: "" });
    expect(one({ step: "addModule", module: "choice", course: "C1", name: "C", option: ["a", "b"] }).args.option).toEqual(["a", "b"]);
    expect(() => one({ step: "addModule", module: "Assign", course: "C1" })).toThrow(/'module' must be lowercase/);
    expect(() => one({ step: "addModule", module: "page", course: "C1", "Bad-Field": 1 })).toThrow(/'Bad-Field' is not a field name/);
    expect(() => one({ step: "addModule", module: "page", course: "C1", deep: { a: { b: 1 } } })).toThrow(/'deep' must be a string, number/);
    expect(() => one({ step: "addModule", module: "resource", course: "C1", files: [{ filename: "../x", data: { literal: "x" } }] })).toThrow(/filename/);
    const r = one({ step: "addModule", module: "resource", course: "C1", files: [{ filename: "a.txt", data: { literal: "hi" } }] });
    expect(r.args.files).toEqual([{ filename: "a.txt", data: { literal: "hi" } }]);
  });

  it("reads file step paths as moodledata (supported) or code tree (unsafe), and refuses everything else", () => {
    expect(one({ step: "mkdir", path: "/persist/moodledata/x/y" })).toMatchObject({ class: "supported", args: { path: "/persist/moodledata/x/y" } });
    expect(one({ step: "writeFile", path: "/var/www/moodledata/a.txt", data: "x" }).args.path).toBe("/persist/moodledata/a.txt");
    expect(() => one({ step: "mkdir", path: "/www/moodle/local/x" })).toThrow(/writes into the Moodle code tree/);
    expect(one({ step: "mkdir", path: "/www/moodle/local/x" }, { policy: { allowUnsafe: true } }).class).toBe("unsafe");
    expect(() => one({ step: "copyFile", from: "/persist/moodledata/a", to: "/www/moodle/config.php" })).toThrow(/code tree/);
    for (const bad of ["/etc/passwd", "/persist/moodledata/../../etc", "/persist/moodledata/a\\b", "/persist/moodledata/.mdind-blueprint/x", "/tmp/x", "//x"]) {
      expect(() => one({ step: "mkdir", path: bad }, { policy: { allowUnsafe: true } }), bad).toThrow(ValidationError);
    }
  });

  it("turns a Playground url field into a url resource, only when URLs are allowed", () => {
    const url = "https://github.com/brickfield/moodle-mod_board/archive/refs/heads/main.zip";
    expect(() => one({ step: "installMoodlePlugin", url })).toThrow(/URL resources need policy.allowUrls/);
    expect(one({ step: "installMoodlePlugin", url }, { policy: { allowUrls: true } }).args).toEqual({ data: { url } });
    expect(() => one({ step: "restoreCourse", path: "/tmp/x.mbz" })).toThrow(/Moodle Playground's runtime/);
  });

  it("refuses vfs resources with a clear message", () => {
    expect(() => one({ step: "restoreCourse", data: { vfs: "/tmp/x.mbz" } })).toThrow(/'vfs' resources point into Moodle Playground's in-browser filesystem/);
  });

  it("refuses unsafe steps unless allowed", () => {
    for (const s of [
      { step: "runPhpCode", code: "echo 1;" },
      { step: "runPhpScript", code: "echo 1;" },
      { step: "writeFile", path: "x.txt", data: "x" },
      { step: "unzip", data: { base64: "eA==" }, destination: "local/x" },
      { step: "writeFiles", files: [{ path: "/persist/moodledata/ok", data: "x" }, { path: "/www/moodle/x.php", data: "x" }] },
    ]) {
      expect(() => one(s)).toThrow(/refused unless unsafe steps are allowed/);
      expect(one(s, { policy: { allowUnsafe: true } }).class).toBe("unsafe");
    }
    expect(() => one({ step: "writeFile", path: "../../etc/passwd", data: "x" }, { policy: { allowUnsafe: true } })).toThrow(/climbs out/);
  });

  it("applies installMoodle's site settings, warns about its admin fields, treats login as a no-op and carries the critical flag", () => {
    const p = parseBlueprint(
      bp({ steps: [{ step: "installMoodle", options: { siteName: "x", adminPass: "password" } }, { step: "login" }, { step: "setTheme", name: "boost", critical: true }] }),
    );
    expect(p.steps.map((s) => s.class)).toEqual(["supported", "noop", "supported"]);
    expect(p.warnings).toEqual([expect.stringMatching(/^step 1 \(installMoodle\): installMoodle: adminPass not applied/)]);
    expect(p.steps[2].critical).toBe(true);
    expect(() => parseBlueprint(bp({ steps: [{ step: "login", critical: "yes" }] }))).toThrow(/'critical' must be true or false/);
  });
});

/** The step enum of Moodle Playground's assets/blueprints/blueprint-schema.json, and the steps its newer examples use. */
const PLAYGROUND_SCHEMA_STEPS = [
  "installMoodle", "setAdminAccount", "login", "setConfig", "setConfigs", "setLandingPage", "createUser", "createUsers", "createCategory",
  "createCategories", "createCourse", "createCourses", "createSection", "createSections", "enrolUser", "enrolUsers", "addModule",
  "installMoodlePlugin", "installTheme", "mkdir", "rmdir", "writeFile", "writeFiles", "copyFile", "moveFile", "unzip", "request",
  "runPhpCode", "runPhpScript",
];
const PLAYGROUND_EXAMPLE_STEPS = ["importRoles", "createRole", "createScales", "createScale", "createCohort", "setTheme"];

describe("registry", () => {
  it("implements every step of the Playground schema and its examples (runPhp* only when unsafe steps are allowed)", () => {
    for (const name of [...PLAYGROUND_SCHEMA_STEPS, ...PLAYGROUND_EXAMPLE_STEPS]) {
      const def = STEP_REGISTRY.get(name);
      expect(def?.class, name).toMatch(/^(supported|noop|unsafe)$/);
    }
    expect(STEP_REGISTRY.get("runPhpCode")?.class).toBe("unsafe");
  });

  it("classifies every step and gives executable steps a schema", () => {
    expect(stepNames("supported")).toEqual(
      expect.arrayContaining([
        "setConfig", "setConfigs", "setAdminAccount", "installMoodlePlugin", "installTheme", "setTheme", "createCategory", "createCourse",
        "createUser", "createUsers", "enrolUser", "createCohort", "addModule", "restoreCourse",
      ]),
    );
    expect(stepNames("noop").sort()).toEqual(["login", "setLandingPage"]);
    expect(stepNames("unsafe").sort()).toEqual(["runPhpCode", "runPhpScript"]);
    for (const def of STEP_REGISTRY.values()) {
      if (def.class !== "unimplemented") expect(def.schema, def.name).toBeDefined();
    }
  });
});

describe("blueprintHash", () => {
  it("ignores key order, whitespace, constants and reference style", () => {
    const a = parseBlueprint('{"steps":[{"step":"createCourse","shortname":"C1","fullname":"Course one"}],"x":{"b":1,"a":2}}');
    const b = parseBlueprint(bp({ x: { a: 2, b: 1 }, steps: [{ fullname: "Course one", step: "createCourse", shortname: "C1", format: "topics" }] }));
    expect(blueprintHash(a)).toBe(blueprintHash(b));
    expect(blueprintHash(a)).toMatch(/^[0-9a-f]{64}$/);
    const c = parseBlueprint(bp({ x: { a: 2, b: 1 }, steps: [{ step: "createCourse", shortname: "C2", fullname: "Course one" }] }));
    expect(blueprintHash(c)).not.toBe(blueprintHash(a));
  });

  it("hashes constants and @references the same as the values they stand for", () => {
    const withRefs = parseBlueprint(
      bp({ constants: { C: "Course one" }, resources: { r: { bundled: "a.mbz" } }, steps: [{ step: "restoreCourse", data: "@r", fullname: "{{C}}" }] }),
    );
    const inline = parseBlueprint(bp({ steps: [{ step: "restoreCourse", data: { bundled: "./a.mbz" }, fullname: "Course one", createCategory: true }] }));
    expect(blueprintHash(withRefs)).toBe(blueprintHash(inline));
  });

  it("normalised form parses to itself", () => {
    const p = parseBlueprint(
      bp({
        extra: [1, 2],
        preferredVersions: { php: 8.3 },
        constants: { U: "u1" },
        steps: [
          { step: "createUser", username: "{{U}}", password: "Pw-123456!" },
          { step: "setConfig", name: "a", value: false },
          { step: "installTheme", data: { bundled: "t.zip" } },
          { step: "addModule", module: "page", course: "C", name: "P" },
        ],
      }),
    );
    const again = parseBlueprint(JSON.stringify(p.normalized));
    expect(again.normalized).toEqual(p.normalized);
    expect(blueprintHash(again)).toBe(blueprintHash(p));
  });

  it("canonical JSON sorts keys and drops whitespace", () => {
    expect(canonicalJson({ b: [1, { d: 1, c: 2 }], a: "x" })).toBe('{"a":"x","b":[1,{"c":2,"d":1}]}');
  });
});

describe("parser robustness (property)", () => {
  const onlyValidationErrors = (input: unknown) => {
    try {
      parseBlueprint(input);
    } catch (e) {
      if (!(e instanceof ValidationError)) throw e;
    }
  };

  it("throws nothing but ValidationError on arbitrary strings", () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), onlyValidationErrors), { numRuns: 500 });
  });

  it("throws nothing but ValidationError on arbitrary JSON, as text and as objects", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 6 }), (v) => {
        onlyValidationErrors(JSON.stringify(v));
        onlyValidationErrors(v);
      }),
      { numRuns: 500 },
    );
  });

  it("throws nothing but ValidationError on step-shaped input", () => {
    const names = [...STEP_REGISTRY.keys(), "fooBar"];
    const step = fc.record(
      { step: fc.constantFrom(...names), name: fc.jsonValue(), username: fc.jsonValue(), data: fc.jsonValue(), module: fc.constantFrom("page", "label", "x") },
      { requiredKeys: ["step"] },
    );
    fc.assert(
      fc.property(
        fc.record({ steps: fc.array(step, { maxLength: 4 }), constants: fc.dictionary(fc.string(), fc.jsonValue()), resources: fc.jsonValue() }, { requiredKeys: ["steps"] }),
        fc.boolean(),
        (doc, allow) => {
          try {
            parseBlueprint(JSON.stringify(doc), { policy: { allowUnsafe: allow, allowUrls: allow } });
          } catch (e) {
            if (!(e instanceof ValidationError)) throw e;
          }
        },
      ),
      { numRuns: 500 },
    );
  });

  it("throws nothing but ValidationError on arbitrary in-memory values", () => {
    fc.assert(fc.property(fc.anything(), onlyValidationErrors), { numRuns: 300 });
  });
});
