import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { imagesBuildSchema } from "@/edge/http/schemas";
import { imagesBuild, resolveSpecs } from "@/lib/images/cli";
import { runOperation } from "@/lib/operations";

/** Build images as an operation on the "_images" channel; progress lines stream on /events. */
export const POST = route(async ({ req }) => {
  const { specs } = await jsonBody(req, imagesBuildSchema);
  resolveSpecs(specs);
  const { opId, done } = await launch("_images", () =>
    runOperation("_images", "build", (op) => op.step("build", () => imagesBuild(specs, (l) => op.log(l)))),
  );
  if (wantsWait(req)) return { results: await done };
  return Response.json({ operation: opId, specs }, { status: 202 });
});
