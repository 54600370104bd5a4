import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { listConfigFiles } from "@/instances/configfiles";

/** The editable files: only what lies directly in the instance's config/<svc>-<ver>/ folders. */
export const GET = route<{ name: string }>(async ({ params }) => ({ files: await listConfigFiles(instanceParam(params)) }));
