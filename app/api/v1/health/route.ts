import { route } from "@/edge/http/edge";
import { authenticateHeaders } from "@/services/auth";
import { healthDetails } from "@/services/hostinfo";

/** Public probe: {ok} only. With a session or token it adds engine, disk and supervisor details. */
export const GET = route(
  async ({ req }) => {
    const who = await authenticateHeaders({
      cookie: req.headers.get("cookie") ?? undefined,
      authorization: req.headers.get("authorization") ?? undefined,
    });
    if (!who) return { ok: true };
    const details = await healthDetails();
    return Response.json(details, { status: details.ok ? 200 : 503 });
  },
  { public: true },
);
