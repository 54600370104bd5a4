import { route } from "@/edge/http/edge";
import { launchAnswer } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { packedDownload } from "@/edge/http/streams";
import { exportInstance } from "@/instances/archive";
import { exportForDownload, newDownloadToken } from "@/instances/downloads";

/** Download the instance as one .tar.gz (DB dump, code, moodledata, config); no secrets inside. */
export const GET = route<{ name: string }>(async ({ params }) => {
  const name = instanceParam(params);
  return packedDownload(name, (file) => exportInstance(name, file));
});

/**
 * Pack the instance for a browser download: 202 with the operation id and the one-time download
 * path, fetched when the operation is done (the dashboard's Export; instances/downloads.ts).
 */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const token = newDownloadToken();
  const download = `/api/v1/instances/${name}/export/${token}`;
  return launchAnswer(req, name, async () => ({ ...(await exportForDownload(name, token)), download }), { name, download });
});
