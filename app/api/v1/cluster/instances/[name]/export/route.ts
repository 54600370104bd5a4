import { route } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { packedDownload } from "@/edge/http/streams";
import { newDownloadToken } from "@/instances/downloads";
import { exportClusterForDownload, exportClusterOp } from "@/services/cluster";

/** Download a cluster instance as the archive `cluster export` writes, read from its node. */
export const GET = route<{ name: string }>(async ({ params }) => {
  const name = instanceParam(params);
  return packedDownload(name, (file) => exportClusterOp(name, file));
});

/**
 * Pack it for a browser download, as a single host's POST /export does: 202 with the operation id
 * and the one-time download path, fetched once the operation is done.
 */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const token = newDownloadToken();
  const download = `/api/v1/cluster/instances/${name}/export/${token}`;
  return launchAnswer(req, name, async () => ({ ...(await exportClusterForDownload(name, token)), download }), { name, download });
});
