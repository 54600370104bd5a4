import { z } from "zod";
import { route } from "@/edge/http/edge";
import { deleteMailbox, listMail, validateBox } from "@/lib/mail/store";

const listQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).optional(),
  offset: z.coerce.number().int().min(0).max(1_000_000).optional(),
});

/** The instance's caught mail, newest first. `name` may also be "_unknown" (senders no instance owns). */
export const GET = route<{ name: string }>(async ({ req, params }) => {
  const box = validateBox(params.name);
  const q = listQuery.parse(Object.fromEntries(new URL(req.url).searchParams));
  return listMail(box, q);
});

export const DELETE = route<{ name: string }>(async ({ params }) => {
  const deleted = await deleteMailbox(validateBox(params.name));
  return { ok: true, deleted };
});
