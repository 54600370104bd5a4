import { route, jsonBody } from "@/lib/http/edge";
import { instanceParam } from "@/lib/http/params";
import { configPutSchema } from "@/lib/http/schemas";
import { readConfigFile, writeConfigFile } from "@/lib/configfiles";

type P = { name: string; dir: string; file: string };

export const GET = route<P>(async ({ params }) => readConfigFile(instanceParam(params), params.dir, params.file));

/** Validate with the service's own checker, then save; 422 with the checker's output when it fails. */
export const PUT = route<P>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { content } = await jsonBody(req, configPutSchema);
  return writeConfigFile(name, params.dir, params.file, content);
});
