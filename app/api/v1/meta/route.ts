import { route } from "@/edge/http/edge";
import { compatibilityMatrix, WEB_SERVERS } from "@/instances/spec";

/** What the create form may offer: the compatibility table and the defaults. */
export const GET = route(async () => ({
  matrix: compatibilityMatrix(),
  webServers: WEB_SERVERS,
  defaultMoodle: process.env.MDIND_DEFAULT_MOODLE ?? null,
}));
