import { describe, expect, it } from "vitest";
import { parseCreateInput, resolveSpec } from "../../instances/spec";
import { validateName } from "../../lib/names";
import { ValidationError } from "../../lib/errors";

const HOSTILE_NAMES = [
  "", "a", "-abc", "abc-", "ABC", "a b", "../etc", "..", "a/b", "a\\b", "a;rm -rf /", "$(id)", "`id`", "a|b", "a&b",
  "a\nb", "a\u0000b", "ä", "名字", "💥💥", "a".repeat(33), "x".repeat(10_000), "a_b", "a.b", "-", "1abc", "a--", " abc",
  "abc ", "%2e%2e", "a'b", 'a"b', "a>b", "a<b", "a*b", "a?b", "a{b}", "a[b]", "~root", "\u202eabc",
];

describe("instance names", () => {
  it.each(HOSTILE_NAMES)("refuses %j", (name) => {
    expect(() => validateName(name)).toThrow(ValidationError);
  });
  it.each([null, undefined, 42, {}, ["a"], true])("refuses non-strings %j", (name) => {
    expect(() => validateName(name)).toThrow(ValidationError);
  });
  it.each(["ab", "site1", "my-moodle", "a".repeat(32), "q-a-9"])("accepts %j", (name) => {
    expect(validateName(name)).toBe(name);
  });
  it("names the field in the error", () => {
    try {
      validateName("../x");
    } catch (e) {
      expect((e as ValidationError).field).toBe("name");
    }
  });
});

describe("compatibility table", () => {
  it("defaults PHP and DB from the branch and the PHP suite", () => {
    const s = resolveSpec(parseCreateInput({ name: "aa", moodle: "5.1" }), "5.1");
    expect(s.php).toBe("8.2");
    expect(s.db).toEqual({ engine: "postgres", version: "15" });
    expect(s.web).toEqual({ server: "nginx", version: "1.22" });
    const t = resolveSpec(parseCreateInput({ name: "aa", moodle: "5.1", php: "8.4" }), "5.1");
    expect(t.db).toEqual({ engine: "postgres", version: "17" });
    expect(t.web).toEqual({ server: "nginx", version: "1.26" });
  });
  it("keeps the DB in PHP's Debian suite when allowed", () => {
    const s = resolveSpec(parseCreateInput({ name: "aa", moodle: "5.1", php: "8.2", db: "mariadb" }), "5.1");
    expect(s.db).toEqual({ engine: "mariadb", version: "10.11" });
    expect(s.web.version).toBe("1.22");
  });
  it("refuses PHP outside the branch range and lists what is allowed", () => {
    expect(() => resolveSpec(parseCreateInput({ name: "aa", moodle: "5.1", php: "7.4" }), "5.1")).toThrow(/8\.2, 8\.4/);
  });
  it("refuses a DB version outside the range", () => {
    expect(() => resolveSpec(parseCreateInput({ name: "aa", moodle: "5.1", db: "postgres:13" }), "5.1")).toThrow(/15, 17/);
    expect(() => resolveSpec(parseCreateInput({ name: "aa", moodle: "4.5", db: "mariadb:10.5" }), "4.5")).toThrow(/db/);
  });
  it("auto takes the detected source branch", () => {
    expect(resolveSpec(parseCreateInput({ name: "aa" }), "4.1").php).toBe("7.4");
  });
  it.each([
    { php: "9.9" }, { php: "8.2; id" }, { db: "mysql" }, { db: "postgres:15;id" }, { db: "postgres:../../" },
    { web: "iis" }, { moodle: "5.1.0.0" }, { moodle: "../" }, { siteName: "<script>" }, { siteName: "a\nb" },
    { adminEmail: "not-an-email" }, { limits: { memoryMb: 1 } }, { limits: { cpus: 1000 } }, { extra: 1 },
    { webVersion: "1.22;id" }, { profile: "turbo" }, { install: "yes" },
  ])("refuses %j", (bad) => {
    expect(() => resolveSpec(parseCreateInput({ name: "aa", moodle: "fixture", ...bad }), "fixture")).toThrow(ValidationError);
  });
});
