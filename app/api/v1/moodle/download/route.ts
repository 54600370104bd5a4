import { jsonBody, route } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { moodleDownloadSchema } from "@/edge/http/schemas";
import { checkDownload, downloadBuildOp } from "@/instances/builds";
import { MOODLE_CHANNEL } from "@/lib/operations";

/**
 * Download a Moodle package by version (or clone a git ref) into the library, in the background:
 * 202 with the operation id, progress on /api/v1/events?instance=_moodle; ?wait=1 waits for the build.
 */
export const POST = route(async ({ req }) => {
  const body = await jsonBody(req, moodleDownloadSchema);
  checkDownload(body);
  const { opId, done } = await launch(MOODLE_CHANNEL, () => downloadBuildOp(body));
  if (wantsWait(req)) return { build: await done, operation: opId };
  return Response.json({ operation: opId }, { status: 202 });
});
