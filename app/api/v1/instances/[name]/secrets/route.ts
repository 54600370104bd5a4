import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { readSecrets } from "@/instances/store";

/** The Moodle admin login, asked for explicitly; the DB password never leaves the server. */
export const GET = route<{ name: string }>(async ({ params }) => {
  const s = await readSecrets(instanceParam(params));
  return Response.json({ adminUser: s.adminUser, adminPassword: s.adminPassword }, { headers: { "Cache-Control": "no-store" } });
});
