import { route } from "@/edge/http/edge";
import { sessionIdOf } from "@/services/auth";
import { mintAdminerLogin } from "@/services/dbadmin/dbadmin";
import { dbAdminOwner } from "@/services/dbadmin/owner";
import { mintClusterAdminerLogin } from "@/services/dbadmin/remote";
import { validateName } from "@/lib/names";

/**
 * Open the DB admin logged in to this instance's database: mints a one-time login and redirects the
 * browser to /adminer. `?format=json` answers with the location instead (for the UI's own fetch).
 * An instance of a cluster started here (and not also local) gets a tunnel to its node's database,
 * owned by this session, first.
 */
export const GET = route<{ name: string }>(async ({ req, params, principal }) => {
  const name = validateName(params.name);
  const minted = (await mintClusterAdminerLogin(name, dbAdminOwner(principal, sessionIdOf(req)))) ?? (await mintAdminerLogin(name));
  const { location, login, expiresAt } = minted;
  if (new URL(req.url).searchParams.get("format") === "json") {
    return Response.json({ location, driver: login.driver, server: login.server, db: login.db, expiresAt }, { headers: { "cache-control": "no-store" } });
  }
  return new Response(null, { status: 303, headers: { location, "cache-control": "no-store" } });
});
