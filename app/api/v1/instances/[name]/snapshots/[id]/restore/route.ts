import { route } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { restoreSnapshot } from "@/instances/snapshots";
import { instanceInfo } from "@/instances/query";

export const POST = route<{ name: string; id: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { opId, done } = await launch(name, () => restoreSnapshot(name, String(params.id ?? "")));
  if (wantsWait(req)) {
    await done;
    return instanceInfo(name);
  }
  return Response.json({ name, snapshot: params.id, operation: opId }, { status: 202 });
});
