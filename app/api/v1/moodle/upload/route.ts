import { Readable } from "node:stream";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { errorResponse, route } from "@/edge/http/edge";
import { launch } from "@/edge/http/launch";
import { moodleUploadQuerySchema } from "@/edge/http/schemas";
import { uploadBuildOp } from "@/instances/builds";
import { ValidationError } from "@/lib/errors";
import { UploadTooLargeError, uploadLimit } from "@/lib/moodle/library";
import { MOODLE_CHANNEL } from "@/lib/operations";

/** The one answer that is not the kind's usual status: an upload over MDIND_MOODLE_UPLOAD_MAX. */
function tooLarge(e: unknown): Response {
  const r = errorResponse(e);
  return new Response(r.body, { status: 413, headers: r.headers });
}

/**
 * POST /api/v1/moodle/upload?filename=moodle-4.5.5.tgz with the package as the raw body. The body
 * is streamed to disk (never buffered) inside an operation on the "_moodle" channel, so the
 * dashboard sees its progress; the answer comes once the build is in the library (201).
 */
export const POST = route(async ({ req }) => {
  const { filename } = moodleUploadQuerySchema.parse(Object.fromEntries(new URL(req.url).searchParams));
  const max = uploadLimit();
  if (Number(req.headers.get("content-length") ?? "0") > max) return tooLarge(new UploadTooLargeError(max));
  if (!req.body) throw new ValidationError("the package goes in the request body", "body");
  const body = Readable.fromWeb(req.body as unknown as NodeReadableStream<Uint8Array>);
  try {
    const { opId, done } = await launch(MOODLE_CHANNEL, () => uploadBuildOp(body, filename, max));
    return Response.json({ build: await done, operation: opId }, { status: 201 });
  } catch (e) {
    if ((e as { tooLarge?: boolean }).tooLarge) return tooLarge(e);
    throw e;
  }
});
