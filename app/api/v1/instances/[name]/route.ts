import { route } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { instanceInfo } from "@/instances/query";
import { removeInstance } from "@/instances/lifecycle";

export const GET = route<{ name: string }>(async ({ params }) => instanceInfo(instanceParam(params)));

/** Delete runs as an operation: 202 + id, or the result with ?wait=1. */
export const DELETE = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { opId, done } = await launch(name, () => removeInstance(name));
  if (wantsWait(req)) return done;
  return Response.json({ name, operation: opId }, { status: 202 });
});
