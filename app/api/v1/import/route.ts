import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { route } from "@/edge/http/edge";
import { launch, wantsWait } from "@/edge/http/launch";
import { AppError, ValidationError } from "@/lib/errors";
import { importInstance } from "@/instances/archive";
import { instanceInfo } from "@/instances/query";
import { validateName } from "@/lib/names";

const MAX_UPLOAD = 20 * 1024 ** 3;

/** POST /api/v1/import?name=new-name with the export archive as the body (application/gzip). */
export const POST = route(async ({ req }) => {
  const name = validateName(new URL(req.url).searchParams.get("name"));
  const len = Number(req.headers.get("content-length") ?? "0");
  if (len > MAX_UPLOAD) throw new AppError("validation", "archive too large", { field: "body" });
  if (!req.body) throw new ValidationError("the archive goes in the request body", "body");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mdind-up-"));
  const file = path.join(dir, "upload.tar.gz");
  let seen = 0;
  const capped = Readable.fromWeb(req.body as never).on("data", (d: Buffer) => {
    seen += d.length;
    if (seen > MAX_UPLOAD) capped.destroy(new AppError("validation", "archive too large", { field: "body" }));
  });
  await pipeline(capped, fs.createWriteStream(file, { mode: 0o600 }));
  const cleanup = () => fs.rmSync(dir, { recursive: true, force: true });
  try {
    const { opId, done } = await launch(name, () => importInstance(file, name));
    done.finally(cleanup).catch(() => undefined);
    if (wantsWait(req)) {
      await done;
      return instanceInfo(name);
    }
    return Response.json({ name, operation: opId }, { status: 202 });
  } catch (e) {
    cleanup();
    throw e;
  }
});
