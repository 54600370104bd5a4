import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { switchPhp } from "@/instances/php";
import { phpSwitchSchema } from "@/edge/http/schemas";
import { instanceInfo } from "@/instances/query";

/** Switch PHP within the Moodle branch's range: 202 + operation id, or the view with ?wait=1. */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { version } = await jsonBody(req, phpSwitchSchema);
  // Already on it: switchPhp starts no operation, so there is nothing to launch.
  const current = await instanceInfo(name);
  if (current.php === version) return current;
  const { opId, done } = await launch(name, () => switchPhp(name, version));
  if (wantsWait(req)) {
    await done;
    return instanceInfo(name);
  }
  return Response.json({ name, php: version, operation: opId }, { status: 202 });
});
