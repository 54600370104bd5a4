import { route } from "@/edge/http/edge";
import { preloadDir, preloadState, runPreload } from "@/lib/images/preload";

/** Where the shared-images preload stands: per file bytes read / total and the outcome. */
export const GET = route(async () => preloadState());

/** Run it again (new tarballs dropped into shared-images/); answers at once, progress via GET. */
export const POST = route(async () => {
  void runPreload(preloadDir());
  return Response.json({ ok: true, started: true }, { status: 202 });
});
