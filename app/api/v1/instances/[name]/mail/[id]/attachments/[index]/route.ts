import { z } from "zod";
import { route } from "@/edge/http/edge";
import { readAttachment, validateBox, validateMailId } from "@/lib/mail/store";

const indexSchema = z.coerce.number().int().min(0).max(1000);

/** Sender-chosen filename, reduced to characters safe in a quoted header value. */
function safeFilename(name: string): string {
  const s = name.replace(/[^A-Za-z0-9._ -]/g, "_").slice(0, 120).trim();
  return s || "attachment";
}

/**
 * Always a download (never rendered inline): an attachment is untrusted content, and serving it
 * from the dashboard's origin as html or svg would run it with the dashboard's cookies.
 */
export const GET = route<{ name: string; id: string; index: string }>(async ({ params }) => {
  const a = await readAttachment(validateBox(params.name), validateMailId(params.id), indexSchema.parse(params.index));
  return new Response(new Uint8Array(a.content), {
    headers: {
      "content-type": "application/octet-stream",
      "content-disposition": `attachment; filename="${safeFilename(a.filename)}"`,
      "x-mdind-content-type": a.contentType.replace(/[^\w.+/-]/g, ""),
      "cache-control": "no-store",
    },
  });
});
