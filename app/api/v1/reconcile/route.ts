import { route } from "@/edge/http/edge";
import { ping } from "@/lib/docker";
import { reconcile } from "@/services/reconcile";

/** Bring registry, folders and engine back into agreement; ?dryRun=1 only reports. */
export const POST = route(async ({ req }) => {
  await ping();
  const dry = new URL(req.url).searchParams.get("dryRun");
  return reconcile({ dryRun: dry === "1" || dry === "true" });
});
