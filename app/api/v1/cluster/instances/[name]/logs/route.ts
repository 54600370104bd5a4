import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { clusterLogsQuerySchema } from "@/edge/http/schemas";
import { clusterLogFiles, clusterLogTail } from "@/services/cluster";

/** A cluster instance's log files on the node holding its data: the list, or ?file=…&lines=N of one. */
export const GET = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const q = clusterLogsQuerySchema.parse(Object.fromEntries(new URL(req.url).searchParams));
  return q.file ? clusterLogTail(name, q.file, q.lines) : clusterLogFiles(name);
});
