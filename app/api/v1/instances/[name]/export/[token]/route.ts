import fs from "node:fs";
import { Readable } from "node:stream";
import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { dropDownload, takeDownload } from "@/instances/downloads";

/** One fetch of an archive packed by POST /export: streamed from disk, removed once sent. */
export const GET = route<{ name: string; token: string }>(async ({ params }) => {
  const { file, bytes, filename } = takeDownload(instanceParam(params), String(params.token ?? ""));
  const stream = fs.createReadStream(file);
  stream.on("close", () => dropDownload(file));
  return new Response(Readable.toWeb(stream) as ReadableStream, {
    headers: {
      "content-type": "application/gzip",
      "content-length": String(bytes),
      "cache-control": "no-store, no-transform",
      "content-disposition": `attachment; filename="${filename}"`,
    },
  });
});
