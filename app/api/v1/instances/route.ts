import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { createBodySchema } from "@/edge/http/schemas";
import { listViews } from "@/services/events";
import { createInstance } from "@/instances/create";
import { instanceInfo } from "@/instances/query";
import { resolveSpec } from "@/instances/spec";
import { sourceBranch } from "@/instances/source";
import { readRecord } from "@/instances/store";
import { ConflictError, isAppError } from "@/lib/errors";
import { applyBlueprintAfterCreate, prepareBlueprint, urlsAllowedOnHost } from "@/instances/blueprint";

export const GET = route(async () => {
  const started = performance.now();
  const instances = await listViews();
  return Response.json({ instances }, { headers: { "Server-Timing": `list;dur=${(performance.now() - started).toFixed(1)}` } });
});

/**
 * Create runs in the background: the answer is 202 with the operation id as soon as the
 * operation starts, and progress streams on /api/v1/events. `?wait=1` waits for the instance.
 */
export const POST = route(async ({ req }) => {
  const { blueprint, ...input } = await jsonBody(req, createBodySchema);
  // Check what can be checked now, so the form gets 422/409 instead of a failed operation.
  if (input.moodle && input.moodle !== "auto") resolveSpec(input, await sourceBranch(input.moodle));
  const exists = await readRecord(input.name).then(() => true, (e) => (isAppError(e) && e.kind === "not_found" ? false : Promise.reject(e)));
  if (exists) throw new ConflictError(`an instance named '${input.name}' exists`, "name");
  // Checked before anything is built; it runs inside the create operation once the site is ready.
  const bp = blueprint ? await prepareBlueprint({ json: blueprint }, { allowUrls: urlsAllowedOnHost() }) : null;
  const { opId, done } = await launch(input.name, () => createInstance(input, { afterCreate: bp ? applyBlueprintAfterCreate(bp) : undefined }));
  if (wantsWait(req)) {
    await done;
    return instanceInfo(input.name);
  }
  return Response.json({ name: input.name, operation: opId }, { status: 202 });
});
