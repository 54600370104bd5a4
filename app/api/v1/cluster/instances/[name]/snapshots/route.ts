import { route } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { snapshotClusterOp } from "@/services/cluster";

/** A snapshot now (the cluster keeps the latest one per instance, on the control plane). */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  return launchAnswer(req, name, () => snapshotClusterOp(name), { name });
});
