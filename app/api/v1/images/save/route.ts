import path from "node:path";
import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { imagesSaveSchema } from "@/edge/http/schemas";
import { imagesSave } from "@/lib/images/cli";
import { runOperation } from "@/lib/operations";
import { ValidationError } from "@/lib/errors";

/** Save every present image to a tar folder inside the app root (default shared-images/). */
export const POST = route(async ({ req }) => {
  const { dir } = await jsonBody(req, imagesSaveSchema);
  const root = path.resolve(process.env.MDIND_APP_ROOT ?? process.cwd());
  const target = path.resolve(root, dir ?? "shared-images");
  if (target !== root && !target.startsWith(`${root}${path.sep}`)) throw new ValidationError("dir: must stay inside the app folder", "dir");
  const { opId, done } = await launch("_images", () =>
    runOperation("_images", "save", (op) => op.step("save", () => imagesSave(target, (l) => op.log(l)))),
  );
  if (wantsWait(req)) return { files: await done };
  return Response.json({ operation: opId, dir: path.relative(root, target) || "." }, { status: 202 });
});
