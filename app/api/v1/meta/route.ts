import { route } from "@/edge/http/edge";
import { presentImages } from "@/lib/images/list";
import { listBuilds } from "@/lib/moodle/library";
import { downloadsReachable } from "@/lib/moodle/reachable";
import { NAME_RE, NAME_RULE } from "@/lib/names";
import { REAL_BRANCHES } from "@/lib/versions";
import { compatibilityMatrix, WEB_SERVERS } from "@/instances/spec";

/**
 * What the create form may offer, all from the one version table and the library: each branch's
 * allowed versions and first-click defaults (images already on the engine first), the builds
 * (newest first), the branches a download can fetch now, and the name rule.
 */
export const GET = route(async () => {
  const [present, builds, online] = await Promise.all([presentImages(), listBuilds(), downloadsReachable()]);
  const fixture = process.env.MDIND_DEFAULT_MOODLE === "fixture" || process.env.MDIND_OFFER_FIXTURE === "1";
  return {
    matrix: compatibilityMatrix(present),
    webServers: WEB_SERVERS,
    defaultMoodle: process.env.MDIND_DEFAULT_MOODLE ?? null,
    builds: builds.map(({ id, branch, release, vendor }) => ({ id, branch, release, vendor })),
    fixture,
    downloads: online ? [...REAL_BRANCHES].reverse() : [],
    nameRule: { pattern: NAME_RE.source, message: NAME_RULE },
  };
});
