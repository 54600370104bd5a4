import { route } from "@/edge/http/edge";
import { NotFoundError } from "@/lib/errors";
import { joinInstructions } from "@/services/cluster";

/** How to add a machine to the cluster of real machines run from here, with the swarm's join token. */
export const GET = route(async () => {
  const j = await joinInstructions();
  if (!j) throw new NotFoundError("no cluster of real machines is run from here (`moodle-dind cluster init`)");
  // The swarm's join token is a secret: no cache keeps it.
  return Response.json(j, { headers: { "cache-control": "no-store" } });
});
