import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { instanceInfo } from "@/instances/query";
import { profileBodySchema, setProfile } from "@/instances/profile";

/** Switch the performance profile (dev|prod): rewrites the profile lines of php.ini, restarts the app. */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { profile } = await jsonBody(req, profileBodySchema);
  const { opId, done } = await launch(name, () => setProfile(name, profile));
  if (wantsWait(req)) {
    await done;
    return instanceInfo(name);
  }
  return Response.json({ name, profile, operation: opId }, { status: 202 });
});
