import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { listLogFiles } from "@/instances/logfiles";

/** The log files each service writes under logs/<svc>-<ver>/. */
export const GET = route<{ name: string }>(async ({ params }) => ({ files: await listLogFiles(instanceParam(params)) }));
