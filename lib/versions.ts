/**
 * The one version table. Spec validation (instances/spec.ts), the image catalog
 * (lib/images/catalog.ts), the create form (through GET /api/v1/meta) and the README's table
 * (checked by tests/unit/versions.test.ts) all read it; nothing else lists a version.
 *
 * Every service version is the Debian package of one suite, which is what lets every image be built
 * from the Debian mirror alone. A suite's row is also a stack that shares one mirror: the preferred
 * database and web versions for a PHP version are the ones of its own suite.
 */
export const SUITES = ["bullseye", "bookworm", "trixie"] as const;
export type Suite = (typeof SUITES)[number];

export const KINDS = ["php", "postgres", "mariadb", "nginx", "apache"] as const;
export type ImageKind = (typeof KINDS)[number];

export const SUITE_STACKS: Record<Suite, Partial<Record<ImageKind, string>>> = {
  bullseye: { php: "7.4", postgres: "13", mariadb: "10.5", nginx: "1.18" },
  bookworm: { php: "8.2", postgres: "15", mariadb: "10.11", nginx: "1.22" },
  trixie: { php: "8.4", postgres: "17", mariadb: "11.8", nginx: "1.26", apache: "2.4" },
};

export const WEB_SERVERS = ["nginx", "apache"] as const;
export type WebServer = (typeof WEB_SERVERS)[number];
export type DbEngine = "postgres" | "mariadb";

/** Numeric comparison of dotted versions ("10.11" > "10.5"). */
export function compareVersions(a: string, b: string): number {
  const pa = a.split(/[.+~-]/).map((x) => Number.parseInt(x, 10) || 0);
  const pb = b.split(/[.+~-]/).map((x) => Number.parseInt(x, 10) || 0);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d;
  }
  return 0;
}

/** Versions of one kind, oldest first. */
export function versionsOf(kind: ImageKind): string[] {
  return SUITES.flatMap((s) => (SUITE_STACKS[s][kind] ? [SUITE_STACKS[s][kind]!] : [])).sort(compareVersions);
}

export function suiteOf(kind: ImageKind, version: string): Suite | undefined {
  return SUITES.find((s) => SUITE_STACKS[s][kind] === version);
}

export const PHP_VERSIONS = versionsOf("php");
export type PhpVersion = string;

export interface MoodleBranch {
  branch: string;
  php: PhpVersion[];
  postgres: string[];
  mariadb: string[];
  /** 5.1 moved the web root to public/. */
  publicDir: boolean;
}

/**
 * Moodle's own requirements (admin/environment.xml) intersected with what Debian ships.
 * 4.1 wants PHP 7.4–8.1; 4.5 wants 8.1–8.3; 5.0 and 5.1 want 8.2–8.4. PostgreSQL ≥ 12/13/14 and
 * MariaDB ≥ 10.4/10.6/10.11 respectively. "fixture" is our CI app, which runs on everything.
 */
export const MOODLE_BRANCHES: readonly MoodleBranch[] = [
  { branch: "4.1", php: ["7.4"], postgres: ["13", "15", "17"], mariadb: ["10.5", "10.11", "11.8"], publicDir: false },
  { branch: "4.5", php: ["8.2"], postgres: ["13", "15", "17"], mariadb: ["10.11", "11.8"], publicDir: false },
  { branch: "5.0", php: ["8.2", "8.4"], postgres: ["15", "17"], mariadb: ["10.11", "11.8"], publicDir: false },
  { branch: "5.1", php: ["8.2", "8.4"], postgres: ["15", "17"], mariadb: ["10.11", "11.8"], publicDir: true },
  { branch: "fixture", php: versionsOf("php"), postgres: versionsOf("postgres"), mariadb: versionsOf("mariadb"), publicDir: true },
];

export const REAL_BRANCHES = MOODLE_BRANCHES.filter((b) => b.branch !== "fixture").map((b) => b.branch);

export function findBranch(branch: string): MoodleBranch | undefined {
  return MOODLE_BRANCHES.find((b) => b.branch === branch);
}

export const webVersions = (web: WebServer): string[] => versionsOf(web);

/** "image:version" keys of what is present on the engine, e.g. "php:8.2". */
export type Present = ReadonlySet<string>;

export interface StackDefaults {
  php: string;
  postgres: string;
  mariadb: string;
  nginx: string;
  apache: string;
}

/**
 * Defaults that work on the first click: among the versions a branch allows, the newest whose image
 * is already on the engine (preloaded or built before); then the one from PHP's own suite (one
 * mirror serves the stack); then the newest. `present` empty means "nothing known": suite order.
 */
export function stackDefaults(b: MoodleBranch, present: Present = new Set(), php?: string): StackDefaults {
  const pick = (kind: ImageKind, allowed: string[], suite?: Suite): string => {
    const newest = [...allowed].sort(compareVersions).reverse();
    const onEngine = newest.find((v) => present.has(`${kind}:${v}`));
    if (onEngine) return onEngine;
    const same = suite ? SUITE_STACKS[suite][kind] : undefined;
    if (same && allowed.includes(same)) return same;
    return newest[0];
  };
  const phpPick = php && b.php.includes(php) ? php : pick("php", b.php, "bookworm");
  const suite = suiteOf("php", phpPick);
  return {
    php: phpPick,
    postgres: pick("postgres", b.postgres, suite),
    mariadb: pick("mariadb", b.mariadb, suite),
    nginx: pick("nginx", webVersions("nginx"), suite),
    apache: pick("apache", webVersions("apache"), suite),
  };
}

/** The table as the README and docs/moodle.md print it (tests/unit/versions.test.ts keeps them equal). */
export function markdownTable(): string {
  const rows = MOODLE_BRANCHES.filter((b) => b.branch !== "fixture").map(
    (b) => `| ${b.branch} | ${b.php.join(", ")} | ${b.postgres.join(", ")} | ${b.mariadb.join(", ")} | ${b.publicDir ? "`public/`" : "`/`"} |`,
  );
  return ["| Moodle | PHP | PostgreSQL | MariaDB | web root |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}
