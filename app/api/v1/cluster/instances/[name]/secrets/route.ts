import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { clusterInstanceInfo } from "@/services/cluster";

/** The Moodle admin login of a cluster instance, asked for explicitly (read from its node); the DB password never leaves the node. */
export const GET = route<{ name: string }>(async ({ params }) => {
  const i = await clusterInstanceInfo(instanceParam(params), { showPassword: true });
  return Response.json({ adminUser: i.adminUser, adminPassword: i.adminPassword }, { headers: { "Cache-Control": "no-store" } });
});
