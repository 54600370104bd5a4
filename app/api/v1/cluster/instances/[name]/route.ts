import { route } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { removeClusterOp } from "@/services/cluster";

/** Remove a cluster instance (stack, overlay, its data on the node, its snapshot) as its remove operation. */
export const DELETE = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  return launchAnswer(req, name, () => removeClusterOp(name), { name });
});
