import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { cloneInstance } from "@/instances/archive";
import { instanceInfo } from "@/instances/query";
import { cloneBodySchema } from "@/edge/http/schemas";

/** Clone into a new instance (new N, port and secrets); the operation runs on the new name. */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const from = instanceParam(params);
  const { to } = await jsonBody(req, cloneBodySchema);
  const { opId, done } = await launch(to, () => cloneInstance(from, to));
  if (wantsWait(req)) {
    await done;
    return instanceInfo(to);
  }
  return Response.json({ name: to, from, operation: opId }, { status: 202 });
});
