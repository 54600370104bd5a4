import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { createSnapshot, listSnapshots } from "@/instances/snapshots";
import { snapshotBodySchema } from "@/edge/http/schemas";

export const GET = route<{ name: string }>(async ({ params }) => ({ snapshots: await listSnapshots(instanceParam(params)) }));

export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { label } = await jsonBody(req, snapshotBodySchema);
  const { opId, done } = await launch(name, () => createSnapshot(name, label));
  if (wantsWait(req)) return done;
  return Response.json({ name, operation: opId }, { status: 202 });
});
