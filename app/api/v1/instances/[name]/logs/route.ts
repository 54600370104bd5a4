import { route } from "@/lib/http/edge";
import { instanceParam } from "@/lib/http/params";
import { logsQuerySchema } from "@/lib/http/schemas";
import { lineStream } from "@/lib/http/streams";
import { serviceLogs } from "@/instances/access";

/** ?service=app&tail=200&follow=1&q=text → text/plain, streamed while following. */
export const GET = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const q = logsQuerySchema.parse(Object.fromEntries(new URL(req.url).searchParams));
  const src = await serviceLogs(name, q.service, { tail: q.tail, follow: q.follow });
  return new Response(lineStream(src, { q: q.q, signal: req.signal }), {
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store", "X-Accel-Buffering": "no" },
  });
});
