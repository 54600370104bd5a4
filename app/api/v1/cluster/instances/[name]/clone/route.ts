import { route, jsonBody } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { cloneBodySchema } from "@/edge/http/schemas";
import { cloneClusterOp } from "@/services/cluster";

/** Clone a cluster instance into a new one placed by the scheduler; the operation runs on the new name. */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const from = instanceParam(params);
  const { to } = await jsonBody(req, cloneBodySchema);
  return launchAnswer(req, to, () => cloneClusterOp(from, to), { name: to, from });
});
