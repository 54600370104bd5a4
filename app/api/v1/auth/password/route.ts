import { route, jsonBody } from "@/edge/http/edge";
import { passwordChangeSchema } from "@/edge/http/schemas";
import { changePassword, sessionIdOf } from "@/services/auth";

/** Change the admin password; every other session is logged out, this one stays. */
export const POST = route(async ({ req }) => {
  const { current, password } = await jsonBody(req, passwordChangeSchema);
  await changePassword(current, password, sessionIdOf(req));
  return { ok: true };
});
