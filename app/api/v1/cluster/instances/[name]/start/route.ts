import { route } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { startClusterOp } from "@/services/cluster";

/** Deploy a cluster instance's stack again on the node holding its data, and wait until it answers. */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  return launchAnswer(req, name, () => startClusterOp(name), { name });
});
