import { route } from "@/edge/http/edge";
import { hostShellPolicy } from "@/services/terminal/target";
import { limits, listSessions } from "@/services/terminal/sessions";

/**
 * What the terminal UI needs before it opens a socket: whether the host shell is allowed (and why
 * not), the caller's live sessions and the limits. The terminal itself is the WebSocket at
 * /api/v1/terminal, routed by server.ts (docs/terminal.md). No route may live at that exact path:
 * Next's own upgrade listener ends any upgrade whose path matches one of its routes.
 */
export const GET = route(async ({ principal }) => {
  const l = limits();
  return {
    hostShell: hostShellPolicy(),
    sessions: listSessions(principal.user),
    limits: { perUser: l.perUser, total: l.total, idleSeconds: l.idleMs / 1000, graceSeconds: l.graceMs / 1000 },
  };
});
