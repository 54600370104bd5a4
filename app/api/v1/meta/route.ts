import { route } from "@/edge/http/edge";
import { presentImages } from "@/lib/images/list";
import { NAME_RE, NAME_RULE } from "@/lib/names";
import { compatibilityMatrix, WEB_SERVERS } from "@/instances/spec";
import { listBuilds } from "@/lib/moodle/library";

/**
 * What the create form may offer, all from the one version table: each branch's allowed versions
 * and its first-click defaults (images already on the engine first), and the name rule.
 */
export const GET = route(async () => ({
  matrix: compatibilityMatrix(await presentImages()),
  webServers: WEB_SERVERS,
  defaultMoodle: process.env.MDIND_DEFAULT_MOODLE ?? null,
  builds: (await listBuilds()).map(({ id, branch, release, vendor }) => ({ id, branch, release, vendor })),
  nameRule: { pattern: NAME_RE.source, message: NAME_RULE },
}));
