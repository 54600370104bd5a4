import { settings } from "../config";
import { ValidationError } from "../errors";

/**
 * The image catalog: which service kinds and versions an instance stack can use, and which Debian
 * suite each version is built on. Versions are the distribution's own packages, so a version is
 * only offered on the suite that ships it — that is what lets us build everything from the Debian
 * mirror alone, without any image registry.
 */
export const SUITES = ["bullseye", "bookworm", "trixie"] as const;
export type Suite = (typeof SUITES)[number];

export const KINDS = ["php", "postgres", "mariadb", "nginx", "apache"] as const;
export type ImageKind = (typeof KINDS)[number];

export interface CatalogEntry {
  kind: ImageKind;
  /** major.minor (postgres: major), the tag instances ask for. */
  version: string;
  suite: Suite;
  /** Debian package whose version is the image's exact version. */
  package: string;
}

function entry(kind: ImageKind, version: string, suite: Suite): CatalogEntry {
  const pkg: Record<ImageKind, string> = {
    php: `php${version}-fpm`,
    postgres: `postgresql-${version}`,
    mariadb: "mariadb-server",
    nginx: "nginx-common",
    apache: "apache2",
  };
  return { kind, version, suite, package: pkg[kind] };
}

export const CATALOG: readonly CatalogEntry[] = Object.freeze([
  entry("php", "7.4", "bullseye"),
  entry("php", "8.2", "bookworm"),
  entry("php", "8.4", "trixie"),
  entry("postgres", "13", "bullseye"),
  entry("postgres", "15", "bookworm"),
  entry("postgres", "17", "trixie"),
  entry("mariadb", "10.5", "bullseye"),
  entry("mariadb", "10.11", "bookworm"),
  entry("mariadb", "11.8", "trixie"),
  entry("nginx", "1.18", "bullseye"),
  entry("nginx", "1.22", "bookworm"),
  entry("nginx", "1.26", "trixie"),
  entry("apache", "2.4", "trixie"),
]);

export function isKind(s: string): s is ImageKind {
  return (KINDS as readonly string[]).includes(s);
}

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
  return CATALOG.filter((e) => e.kind === kind)
    .map((e) => e.version)
    .sort(compareVersions);
}

export function latestVersion(kind: ImageKind): string {
  const v = versionsOf(kind);
  return v[v.length - 1];
}

export function findEntry(kind: string, version: string): CatalogEntry | undefined {
  return CATALOG.find((e) => e.kind === kind && e.version === version);
}

export function getEntry(kind: string, version: string): CatalogEntry {
  const e = findEntry(kind, version);
  if (!e) {
    const known = isKind(kind) ? versionsOf(kind).join(", ") : `kinds are ${KINDS.join(", ")}`;
    throw new ValidationError(`Unknown image ${kind}:${version} (${known})`, "image");
  }
  return e;
}

/** Repository without tag, e.g. moodle-dind/php. */
export function imageRepo(kind: ImageKind | string): string {
  return `${settings().imagePrefix}/${kind}`;
}

export function imageRef(kind: ImageKind | string, version: string): string {
  return `${imageRepo(kind)}:${version}`;
}

/** "php:8.2" → entry; accepts an optional prefix ("moodle-dind/php:8.2"). */
export function parseSpec(spec: string): CatalogEntry {
  const m = /^(?:.*\/)?([a-z]+):([0-9][0-9.]*)$/.exec(spec.trim());
  if (!m) throw new ValidationError(`Image spec must look like kind:version (e.g. php:8.2), got "${spec}"`, "image");
  return getEntry(m[1], m[2]);
}

/**
 * Exact upstream version from a Debian package version: drop the epoch, the Debian revision and
 * any +dfsg/~deb suffix, keep at most major.minor.patch ("2:10.11.14-0+deb12u2" → "10.11.14",
 * "8.2.29-1~deb12u1" → "8.2.29", "15.14-0+deb12u1" → "15.14").
 */
export function normaliseDebVersion(deb: string): string {
  let v = deb.trim();
  v = v.replace(/^\d+:/, "");
  v = v.replace(/-[^-]*$/, "");
  const m = /^(\d+(?:\.\d+){0,2})/.exec(v);
  if (!m) throw new ValidationError(`Cannot read a version from "${deb}"`);
  return m[1];
}

/** Major part of a catalog version ("8.2" → "8", "15" → "15"). */
export function majorOf(version: string): string {
  return version.split(".")[0];
}

/** Whether `version` is the highest minor of its major among the kind's versions (it gets the major tag). */
export function ownsMajorTag(kind: ImageKind, version: string): boolean {
  const same = versionsOf(kind).filter((v) => majorOf(v) === majorOf(version));
  return same[same.length - 1] === version;
}

/**
 * Tags an image gets after a build: exact, major.minor, major (only for the highest minor of its
 * major, and only when it differs from the catalog tag) and latest for the newest version of its kind.
 */
export function tagsFor(kind: ImageKind, version: string, exact: string): string[] {
  const tags = new Set<string>([version]);
  if (exact && exact !== version) tags.add(exact);
  if (ownsMajorTag(kind, version)) tags.add(majorOf(version));
  if (latestVersion(kind) === version) tags.add("latest");
  return [...tags];
}
