import { route } from "@/edge/http/edge";
import { removeBuildChecked } from "@/instances/builds";

/** Remove a build from the library; 409 while an instance uses it. */
export const DELETE = route<{ id: string }>(async ({ params }) => {
  await removeBuildChecked(params.id);
  return { id: params.id, removed: true };
});
