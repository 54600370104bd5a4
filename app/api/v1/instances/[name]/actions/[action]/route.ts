import { z } from "zod";
import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { actionSchema } from "@/edge/http/schemas";
import { instanceInfo } from "@/instances/query";
import { restartInstance, startInstance, stopInstance } from "@/instances/lifecycle";
import { ValidationError } from "@/lib/errors";

const actionParam = z.enum(["start", "stop", "restart"]);

/** start | stop | restart, optionally for some services only (restart). */
export const POST = route<{ name: string; action: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const a = actionParam.safeParse(params.action);
  if (!a.success) throw new ValidationError("action must be start, stop or restart", "action");
  const { services } = await jsonBody(req, actionSchema);
  if (services?.length && a.data !== "restart") throw new ValidationError("services: only restart can target some services", "services");
  const run = { start: () => startInstance(name), stop: () => stopInstance(name), restart: () => restartInstance(name, services) }[a.data];
  const { opId, done } = await launch(name, run);
  if (wantsWait(req)) {
    await done;
    return instanceInfo(name);
  }
  return Response.json({ name, action: a.data, operation: opId }, { status: 202 });
});
