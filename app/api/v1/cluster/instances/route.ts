import { route, jsonBody } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { clusterCreateBodySchema } from "@/edge/http/schemas";
import { createClusterOp, listClusterSites } from "@/services/cluster";

/** The cluster's sites for the Instances page (no cluster: an empty list). */
export const GET = route(async () => Response.json(await listClusterSites()));

/** Create a cluster instance on the node given, else where the scheduler places it; the operation runs on the new name. */
export const POST = route(async ({ req }) => {
  const { name, node, db, moodle } = await jsonBody(req, clusterCreateBodySchema);
  return launchAnswer(req, name, () => createClusterOp(name, node, db, moodle), { name, node: node ?? null });
});
