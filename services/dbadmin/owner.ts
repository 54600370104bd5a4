import type { Principal } from "../auth";
import { getSession, sessionTtlMs, sha256 } from "../auth/store";

/**
 * Who opened a DB admin tunnel, so the proxy lets only that requester use it: a dashboard session
 * (by its hash: the id itself stays in the cookie) or an API token (by its id). A tunnel lives no
 * longer than that session, and closes at its logout.
 */
export interface DbAdminOwner {
  key: string;
  until: number;
  alive: () => boolean;
}

export function ownerKey(who: Principal, sessionId: string | undefined): string {
  if (who.via === "token") return `token:${who.tokenId ?? ""}`;
  if (who.via === "session") return `session:${sha256(sessionId ?? "")}`;
  return "none";
}

export function dbAdminOwner(who: Principal, sessionId: string | undefined, now = Date.now()): DbAdminOwner {
  const key = ownerKey(who, sessionId);
  if (who.via !== "session") return { key, until: now + sessionTtlMs(), alive: () => true };
  const session = getSession(sessionId, now);
  return { key, until: session?.expiresAt ?? now, alive: () => getSession(sessionId) !== null };
}
