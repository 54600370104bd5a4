import { route, jsonBody } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { configPutSchema } from "@/edge/http/schemas";
import { readConfigFile, writeConfigFile } from "@/instances/configfiles";

type P = { name: string; dir: string; file: string };

export const GET = route<P>(async ({ params }) => readConfigFile(instanceParam(params), params.dir, params.file));

/** Validate with the service's own checker, then save; 422 with the checker's output when it fails. */
export const PUT = route<P>(async ({ req, params }) => {
  const name = instanceParam(params);
  const { content } = await jsonBody(req, configPutSchema);
  return writeConfigFile(name, params.dir, params.file, content);
});
