import { route } from "@/edge/http/edge";
import { instanceParam } from "@/edge/http/params";
import { createLoginLink } from "@/instances/login";

/**
 * "Open as admin": a one-time link (≤ 60 s, single use) into the site as its admin. POST, so a
 * dashboard session needs the CSRF header; the answer is never cached.
 */
export const POST = route<{ name: string }>(async ({ params }) => {
  const link = await createLoginLink(instanceParam(params));
  return Response.json(link, { headers: { "cache-control": "no-store" } });
});
