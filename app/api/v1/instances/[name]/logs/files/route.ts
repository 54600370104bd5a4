import { route } from "@/lib/http/edge";
import { instanceParam } from "@/lib/http/params";
import { listLogFiles } from "@/lib/logfiles";

/** The log files each service writes under logs/<svc>-<ver>/. */
export const GET = route<{ name: string }>(async ({ params }) => ({ files: await listLogFiles(instanceParam(params)) }));
