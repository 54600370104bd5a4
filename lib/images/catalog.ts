import { settings } from "../config";
import { ValidationError } from "../errors";
import { KINDS, SUITE_STACKS, SUITES, versionsOf, type ImageKind, type Suite } from "../versions";

/**
 * The image catalog: which service kinds and versions an instance stack can use, and which Debian
 * suite each version is built on. Versions are the distribution's own packages, so a version is
 * only offered on the suite that ships it — that is what lets us build everything from the Debian
 * mirror alone, without any image registry.
 */
export { SUITES, KINDS, compareVersions, versionsOf, type Suite, type ImageKind } from "../versions";

export interface CatalogEntry {
  kind: ImageKind;
  /** major.minor (postgres: major), the tag instances ask for. */
  version: string;
  suite: Suite;
  /** Debian package whose version is the image's exact version. */
  package: string;
}

const PACKAGE: Record<ImageKind, (version: string) => string> = {
  php: (v) => `php${v}-fpm`,
  postgres: (v) => `postgresql-${v}`,
  mariadb: () => "mariadb-server",
  nginx: () => "nginx-common",
  apache: () => "apache2",
};

/** Every image the version table names (lib/versions.ts), one per kind and version. */
export const CATALOG: readonly CatalogEntry[] = Object.freeze(
  KINDS.flatMap((kind) =>
    SUITES.flatMap((suite) => {
      const version = SUITE_STACKS[suite][kind];
      return version ? [{ kind, version, suite, package: PACKAGE[kind](version) }] : [];
    }),
  ),
);

export function isKind(s: string): s is ImageKind {
  return (KINDS as readonly string[]).includes(s);
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
