import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { upgradeBodySchema } from "@/edge/http/schemas";
import { instanceInfo } from "@/instances/query";
import { upgradeInstance } from "@/instances/upgrade/upgrade";

/**
 * Upgrade to a newer Moodle build (in place, or on a clone named `clone`). Refusals answer 422/409
 * at once; otherwise 202 with the first operation on the target's channel (with a clone: the clone,
 * followed by an operation named "upgrade").
 */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const body = await jsonBody(req, upgradeBodySchema);
  const target = body.clone ?? name;
  const { opId, done } = await launch(target, () => upgradeInstance(name, body));
  if (wantsWait(req)) {
    await done;
    return instanceInfo(target);
  }
  return Response.json({ name: target, from: name, operation: opId, ...(body.clone ? { then: "upgrade" } : {}) }, { status: 202 });
});
