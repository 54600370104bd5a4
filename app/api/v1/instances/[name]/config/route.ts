import { route } from "@/lib/http/edge";
import { instanceParam } from "@/lib/http/params";
import { listConfigFiles } from "@/lib/configfiles";

/** The editable files: only what lies directly in the instance's config/<svc>-<ver>/ folders. */
export const GET = route<{ name: string }>(async ({ params }) => ({ files: await listConfigFiles(instanceParam(params)) }));
