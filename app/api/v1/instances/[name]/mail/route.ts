import { route } from "@/edge/http/edge";
import { deleteMailbox, listMail, validateBox } from "@/lib/mail/store";
import { mailListQuerySchema } from "@/edge/http/schemas";

/** The instance's caught mail, newest first. `name` may also be "_unknown" (senders no instance owns). */
export const GET = route<{ name: string }>(async ({ req, params }) => {
  const box = validateBox(params.name);
  const q = mailListQuerySchema.parse(Object.fromEntries(new URL(req.url).searchParams));
  return listMail(box, q);
});

export const DELETE = route<{ name: string }>(async ({ params }) => {
  const deleted = await deleteMailbox(validateBox(params.name));
  return { ok: true, deleted };
});
