import { route, jsonBody } from "@/lib/http/edge";
import { passwordChangeSchema } from "@/lib/http/schemas";
import { changePassword, sessionIdOf } from "@/lib/auth";

/** Change the admin password; every other session is logged out, this one stays. */
export const POST = route(async ({ req }) => {
  const { current, password } = await jsonBody(req, passwordChangeSchema);
  await changePassword(current, password, sessionIdOf(req));
  return { ok: true };
});
