import { route } from "@/edge/http/edge";
import { deleteMail, readMail, readRaw, validateBox, validateMailId } from "@/lib/mail/store";

/**
 * One message: html, text, headers and the attachment list as JSON; `?format=eml` gives the raw
 * message. The html is the sender's own markup: the UI must show it in a sandboxed frame.
 */
export const GET = route<{ name: string; id: string }>(async ({ req, params }) => {
  const box = validateBox(params.name);
  const id = validateMailId(params.id);
  if (new URL(req.url).searchParams.get("format") === "eml") {
    const raw = await readRaw(box, id);
    return new Response(new Uint8Array(raw), {
      headers: {
        "content-type": "message/rfc822",
        "content-disposition": `attachment; filename="${id}.eml"`,
        "cache-control": "no-store",
      },
    });
  }
  return readMail(box, id);
});

export const DELETE = route<{ name: string; id: string }>(async ({ params }) => {
  await deleteMail(validateBox(params.name), validateMailId(params.id));
  return { ok: true };
});
