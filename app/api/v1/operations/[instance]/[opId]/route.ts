import { route } from "@/edge/http/edge";
import { channelParam, readOperationLog, replay } from "@/lib/operations";
import { NotFoundError, ValidationError } from "@/lib/errors";

/** Every event of one operation: the log on disk, or the in-memory channel while it is young. */
export const GET = route<{ instance: string; opId: string }>(async ({ params }) => {
  const instance = channelParam(params.instance);
  if (!/^[a-z0-9-]{1,40}$/.test(params.opId)) throw new ValidationError("opId: not an operation id", "opId");
  let events = readOperationLog(instance, params.opId);
  if (events.length === 0) events = replay(instance, 0).filter((e) => e.opId === params.opId);
  if (events.length === 0) throw new NotFoundError(`no operation ${params.opId} for ${instance}`);
  return { instance, id: params.opId, events };
});
