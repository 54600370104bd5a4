import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { deleteSnapshot } from "@/instances/snapshots";

/** Delete one snapshot (a short operation on the instance's channel); 204 when gone. */
export const DELETE = route<{ name: string; id: string }>(async ({ params }) => {
  await deleteSnapshot(instanceParam(params), String(params.id ?? ""));
  return new Response(null, { status: 204 });
});
