import { route } from "@/edge/http/edge";
import { renderMetrics, startMetrics } from "@/services/metrics";

export const dynamic = "force-dynamic";

/** Prometheus scrape endpoint; authenticated like every API route (a bearer token suits scrapers). */
export const GET = route(async () => {
  startMetrics();
  return new Response(await renderMetrics(), {
    headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8", "Cache-Control": "no-store" },
  });
});
