import { route } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { clusterInstanceInfo, removeClusterOp } from "@/services/cluster";

/** One cluster instance: its record, URL (the wwwroot its node rendered), Moodle release and admin user. */
export const GET = route<{ name: string }>(async ({ params }) => Response.json(await clusterInstanceInfo(instanceParam(params))));

/** Remove a cluster instance (stack, overlay, its data on the node, its snapshot) as its remove operation. */
export const DELETE = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  return launchAnswer(req, name, () => removeClusterOp(name), { name });
});
