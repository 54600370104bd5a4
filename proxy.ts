import { NextResponse, type NextRequest } from "next/server";
import { authenticateHeaders } from "./services/auth";
import { contentSecurityPolicy, NONCE_HEADER, newNonce } from "./edge/http/csp";

/**
 * First gate (Next 16 "proxy", Node runtime): pages without a session go to /login, API calls get
 * 401 JSON. Every route handler checks again through route() — this is defense in depth, not the
 * only lock. Pages also get their Content-Security-Policy here, with a fresh nonce per request
 * that Next puts on its own scripts (edge/http/csp.ts).
 */
const PUBLIC = new Set(["/login", "/api/v1/auth/login", "/api/v1/health"]);

/** Next decodes path parameters itself and answers a malformed escape with a bare 500; this is the client's error. */
function decodable(pathname: string): boolean {
  try {
    decodeURIComponent(pathname);
    return true;
  } catch {
    return false;
  }
}

/** Pass the request on; a page gets its CSP, on the request (where Next reads the nonce) and on the answer. */
function pass(req: NextRequest): NextResponse {
  const { pathname } = req.nextUrl;
  // API answers are JSON, and Adminer sets its own policy (with its own nonces) on its pages.
  if (pathname.startsWith("/api/") || pathname === "/adminer" || pathname.startsWith("/adminer/")) return NextResponse.next();
  const nonce = newNonce();
  const csp = contentSecurityPolicy(nonce, process.env.NODE_ENV !== "production");
  const headers = new Headers(req.headers);
  headers.set(NONCE_HEADER, nonce);
  headers.set("content-security-policy", csp);
  const res = NextResponse.next({ request: { headers } });
  res.headers.set("content-security-policy", csp);
  return res;
}

export async function proxy(req: NextRequest) {
  const { pathname, search } = req.nextUrl;
  if (!decodable(pathname)) {
    return NextResponse.json({ error: { kind: "validation", message: "the path has a malformed percent-escape" } }, { status: 400 });
  }
  if (PUBLIC.has(pathname)) return pass(req);
  const principal = await authenticateHeaders({
    cookie: req.headers.get("cookie") ?? undefined,
    authorization: req.headers.get("authorization") ?? undefined,
  });
  if (principal) return pass(req);
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
