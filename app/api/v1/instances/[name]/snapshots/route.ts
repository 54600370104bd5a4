import { z } from "zod";
import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { createSnapshot, listSnapshots } from "@/instances/snapshots";

export const GET = route<{ name: string }>(async ({ params }) => ({ snapshots: await listSnapshots(instanceParam(params)) }));

const body = z.object({ label: z.string().regex(/^[a-z0-9-]{1,32}$/).optional() }).strict();

export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { label } = await jsonBody(req, body);
  const { opId, done } = await launch(name, () => createSnapshot(name, label));
  if (wantsWait(req)) return done;
  return Response.json({ name, operation: opId }, { status: 202 });
});
