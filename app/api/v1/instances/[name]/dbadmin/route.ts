import { route } from "@/edge/http/edge";
import { mintAdminerLogin } from "@/services/dbadmin/dbadmin";
import { validateName } from "@/lib/names";

/**
 * Open the DB admin logged in to this instance's database: mints a one-time login and redirects the
 * browser to /adminer. `?format=json` answers with the location instead (for the UI's own fetch).
 */
export const GET = route<{ name: string }>(async ({ req, params }) => {
  const { location, login, expiresAt } = await mintAdminerLogin(validateName(params.name));
  if (new URL(req.url).searchParams.get("format") === "json") {
    return Response.json({ location, driver: login.driver, server: login.server, db: login.db, expiresAt }, { headers: { "cache-control": "no-store" } });
  }
  return new Response(null, { status: 303, headers: { location, "cache-control": "no-store" } });
});
