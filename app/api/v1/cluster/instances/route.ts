import { route, jsonBody } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { clusterCreateBodySchema } from "@/edge/http/schemas";
import { createClusterOp } from "@/services/cluster";

/** Create a cluster instance on the node given, else where the scheduler places it; the operation runs on the new name. */
export const POST = route(async ({ req }) => {
  const { name, node, db, moodle } = await jsonBody(req, clusterCreateBodySchema);
  return launchAnswer(req, name, () => createClusterOp(name, node, db, moodle), { name, node: node ?? null });
});
