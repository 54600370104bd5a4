import { route } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { nodeParam } from "@/edge/http/params";
import { CLUSTER_CHANNEL } from "@/lib/operations";
import { drainNodeOp } from "@/services/cluster";

/** Drain a node: nothing new is placed there and its instances move by live copy (channel _cluster). */
export const POST = route<{ node: string }>(async ({ req, params }) => {
  const node = nodeParam(params);
  return launchAnswer(req, CLUSTER_CHANNEL, () => drainNodeOp(node), { node, channel: CLUSTER_CHANNEL });
});
