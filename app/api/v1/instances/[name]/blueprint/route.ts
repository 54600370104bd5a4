import { z } from "zod";
import { route, jsonBody } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { instanceParam } from "@/edge/http/params";
import { ValidationError } from "@/lib/errors";
import { blueprintApplySchema } from "@/edge/http/schemas";
import {
  MAX_BUNDLE_UPLOAD_BYTES,
  applyBlueprint,
  blueprintState,
  prepareBlueprint,
  prepareZip,
  urlsAllowedOnHost,
  type ApplyOptions,
} from "@/instances/blueprint";

export const dynamic = "force-dynamic";

const flag = z.enum(["0", "1", "true", "false"]).optional().transform((v) => (v === undefined ? undefined : v === "1" || v === "true"));

/** A bundle ZIP upload carries its options in the query string. */
const zipQuerySchema = z.object({ force: flag, onError: z.enum(["abort", "warn"]).optional(), allowUnsafe: flag, wait: z.string().optional() }).strict();

/** The applied marker and the last run's outcome. */
export const GET = route<{ name: string }>(async ({ params }) => ({
  ...(await blueprintState(instanceParam(params))),
  allowUrls: urlsAllowedOnHost(),
  maxZipBytes: MAX_BUNDLE_UPLOAD_BYTES,
}));

/** Apply a blueprint as the instance's operation: 202 + operation id (progress on /events), ?wait=1 waits. */
export const POST = route<{ name: string }>(async ({ req, params }) => {
  const name = instanceParam(params);
  const isZip = /^application\/(zip|x-zip-compressed)\b/i.test(req.headers.get("content-type") ?? "");
  let opts: ApplyOptions;
  let prepared;
  if (isZip) {
    const q = zipQuerySchema.parse(Object.fromEntries(new URL(req.url).searchParams));
    opts = { force: q.force, onError: q.onError, allowUnsafe: q.allowUnsafe, allowUrls: urlsAllowedOnHost() };
    prepared = await prepareZip(await readCapped(req, MAX_BUNDLE_UPLOAD_BYTES), opts);
  } else {
    const b = await jsonBody(req, blueprintApplySchema);
    opts = { force: b.force, onError: b.onError, allowUnsafe: b.allowUnsafe, allowUrls: urlsAllowedOnHost() };
    const input = b.url !== undefined ? { url: b.url } : { json: typeof b.blueprint === "string" ? b.blueprint : JSON.stringify(b.blueprint) };
    prepared = await prepareBlueprint(input, opts);
  }
  const ready = prepared;
  const { opId, done } = await launch(name, () => applyBlueprint(name, ready, opts));
  if (wantsWait(req)) return done;
  return Response.json({ name, operation: opId }, { status: 202 });
});

/** The request body with a hard cap counted while it arrives (Content-Length is only a hint). */
async function readCapped(req: Request, max: number): Promise<Buffer> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > max) throw new ValidationError(`bundle is larger than the ${max}-byte limit`, "body");
  if (!req.body) throw new ValidationError("the ZIP body is empty", "body");
  const reader = req.body.getReader();
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > max) {
      await reader.cancel().catch(() => undefined);
      throw new ValidationError(`bundle is larger than the ${max}-byte limit`, "body");
    }
    chunks.push(Buffer.from(value));
  }
  if (total === 0) throw new ValidationError("the ZIP body is empty", "body");
  return Buffer.concat(chunks, total);
}
