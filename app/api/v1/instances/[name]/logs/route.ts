import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { logsQuerySchema } from "@/edge/http/schemas";
import { lineStream } from "@/edge/http/streams";
import { serviceLogs } from "@/instances/access";
import { tailLogFile } from "@/instances/logfiles";

/**
 * ?service=app&tail=200&follow=1&q=text[&file=php-8.2/fpm.log] → text/plain, streamed while
 * following: a service's log file when `file` names one, else its container output.
 */
export const GET = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const q = logsQuerySchema.parse(Object.fromEntries(new URL(req.url).searchParams));
  const src = q.file
    ? await tailLogFile(name, q.file, { tail: q.tail, follow: q.follow })
    : await serviceLogs(name, q.service, { tail: q.tail, follow: q.follow });
  return new Response(lineStream(src, { q: q.q, signal: req.signal }), {
    // no-transform: the compression layer would otherwise hold a followed stream back.
    headers: { "Content-Type": "text/plain; charset=utf-8", "Cache-Control": "no-store, no-transform", "X-Accel-Buffering": "no" },
  });
});
