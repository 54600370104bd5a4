import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { archiveResponse } from "@/edge/http/streams";
import { dropDownload, takeDownload } from "@/instances/downloads";

/** One fetch of an archive packed by POST /export: streamed from disk, removed once sent. */
export const GET = route<{ name: string; token: string }>(async ({ params }) => {
  const { file, bytes, filename } = takeDownload(instanceParam(params), String(params.token ?? ""));
  return archiveResponse(file, { bytes, filename, closed: () => dropDownload(file) });
});
