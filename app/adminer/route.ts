import { proxyAdminer } from "@/services/dbadmin/adminer-proxy";

/** /adminer → Adminer on 127.0.0.1 inside the DinD host, behind the dashboard's auth. */
export const dynamic = "force-dynamic";
export const GET = proxyAdminer;
export const HEAD = proxyAdminer;
export const POST = proxyAdminer;
