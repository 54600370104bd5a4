import { route } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { nodeParam } from "@/edge/http/params";
import { CLUSTER_CHANNEL } from "@/lib/operations";
import { recoverNodeOp } from "@/services/cluster";

/** Recover a lost node: each instance it held comes back elsewhere from its latest snapshot (channel _cluster). */
export const POST = route<{ node: string }>(async ({ req, params }) => {
  const node = nodeParam(params);
  return launchAnswer(req, CLUSTER_CHANNEL, () => recoverNodeOp(node), { node, channel: CLUSTER_CHANNEL });
});
