import { route, jsonBody } from "@/edge/http/edge";
import { tokenCreateSchema, tokenRevokeSchema } from "@/edge/http/schemas";
import { createToken, listTokens, revokeToken } from "@/services/auth";

export const GET = route(async () => ({ tokens: await listTokens() }));

/** The token itself is in this response only; the server keeps its hash. */
export const POST = route(async ({ req }) => {
  const { name } = await jsonBody(req, tokenCreateSchema);
  return Response.json(await createToken(name), { status: 201 });
});

export const DELETE = route(async ({ req }) => {
  const id = new URL(req.url).searchParams.get("id");
  const body = id ? tokenRevokeSchema.parse({ id }) : await jsonBody(req, tokenRevokeSchema);
  await revokeToken(body.id);
  return { ok: true };
});
