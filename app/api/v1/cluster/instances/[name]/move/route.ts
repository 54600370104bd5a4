import { route, jsonBody } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { clusterMoveBodySchema } from "@/edge/http/schemas";
import { moveClusterOp } from "@/services/cluster";

/** Move a cluster instance to another node, by live copy or from its latest snapshot; on the instance's channel. */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { to, from } = await jsonBody(req, clusterMoveBodySchema);
  return launchAnswer(req, name, () => moveClusterOp(name, to, from), { name, to, from });
});
