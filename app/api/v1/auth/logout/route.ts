import { route } from "@/edge/http/edge";
import { clearCookies, deleteSession, sessionIdOf } from "@/services/auth";

export const POST = route(async ({ req }) => {
  await deleteSession(sessionIdOf(req));
  const headers = new Headers();
  for (const c of clearCookies()) headers.append("Set-Cookie", c);
  return Response.json({ ok: true }, { headers });
});
