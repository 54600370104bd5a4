import { NextResponse, type NextRequest } from "next/server";
import { authenticateHeaders } from "./services/auth";

/**
 * First gate (Next 16 "proxy", Node runtime): pages without a session go to /login, API calls get
 * 401 JSON. Every route handler checks again through route() — this is defense in depth, not the
 * only lock.
 */
const PUBLIC = new Set(["/login", "/api/v1/auth/login", "/api/v1/health"]);

export async function proxy(req: NextRequest) {
  const { pathname, search } = req.nextUrl;
  if (PUBLIC.has(pathname)) return NextResponse.next();
  const principal = await authenticateHeaders({
    cookie: req.headers.get("cookie") ?? undefined,
    authorization: req.headers.get("authorization") ?? undefined,
  });
  if (principal) return NextResponse.next();
  if (pathname.startsWith("/api/")) {
    return NextResponse.json({ error: { kind: "unauthorized", message: "authentication required" } }, { status: 401 });
  }
  const url = req.nextUrl.clone();
  url.pathname = "/login";
  url.search = "";
  if (pathname !== "/") url.searchParams.set("next", `${pathname}${search}`);
  return NextResponse.redirect(url);
}

export const config = {
  // Everything except Next's static build output, the favicon, and the two streaming uploads: where
  // a proxy runs, Next buffers the request body in memory to replay it and cuts it at 10 MB, which
  // would truncate a Moodle package or an export. Their handlers authenticate through route() as
  // every handler does (tests/unit/routes-auth.test.ts).
  matcher: ["/((?!_next/static|_next/image|favicon.ico|api/v1/moodle/upload|api/v1/import).*)"],
};
