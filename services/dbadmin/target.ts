import { N_MAX, N_MIN } from "../../networks/subnets";
import { liveTunnel, TUNNEL_PORT_MAX, TUNNEL_PORT_MIN } from "../cluster/dbtunnel";
import type { AdminerLogin } from "./dbadmin";

/**
 * Which database a request to Adminer would make it connect to, read the way PHP reads it, so the
 * proxy can refuse a target before Adminer connects. Adminer connects first and judges the server
 * only afterwards (its login() hook), so checking there leaves it a port scanner: the error page
 * echoes what the port answered.
 */

/**
 * Every query key Adminer (core and its driver plugins) treats as "connect with this driver to the
 * server named in the value". Only the two an instance can have are ever allowed.
 */
const DRIVER_KEYS = new Set([
  "server", "pgsql", "sqlite", "sqlite2", "oracle", "mssql", "firebird", "simpledb", "mongo", "elastic", "elastic5",
  "clickhouse", "imap", "igdb", "redis", "mysql", "mariadb",
]);
const ALLOWED_DRIVERS = new Set<AdminerLogin["driver"]>(["pgsql", "server"]);

/** "pgsql:172.20.3.12": one database an Adminer session may open. */
export type TargetKey = string;
export const targetKey = (t: Pick<AdminerLogin, "driver" | "server">): TargetKey => `${t.driver}:${t.server}`;

/** An instance database address: 172.20.N.12 with N in the subnet pool, no port, nothing else. */
export function isInstanceDbServer(server: string): boolean {
  const m = /^172\.20\.(\d{1,3})\.12$/.exec(server);
  if (!m || (m[1].length > 1 && m[1].startsWith("0"))) return false;
  const n = Number(m[1]);
  return n >= N_MIN && n <= N_MAX;
}

/**
 * A DB admin tunnel's address (services/cluster/dbtunnel.ts), written exactly as the dashboard
 * writes it: 127.0.0.1:PORT, PORT in the tunnel range without leading zeros. Its port, or null.
 * Whether a tunnel is open there, and for whom, is tunnelGrantKey's question.
 */
export function tunnelPort(server: string): number | null {
  const m = /^127\.0\.0\.1:([1-9]\d{0,4})$/.exec(server);
  if (!m) return null;
  const port = Number(m[1]);
  return port >= TUNNEL_PORT_MIN && port <= TUNNEL_PORT_MAX ? port : null;
}

/**
 * What a grant must hold for `target` when it names a tunnel: the target plus the id of the tunnel
 * open on that port, so a grant outlives neither its tunnel nor a later tunnel on the same port.
 * Null when no tunnel is open there, `owner` did not open it, or `id` (a login's) is another's.
 * Targets that are no tunnel are their own key.
 */
export function tunnelGrantKey(target: TargetKey, owner: string, id?: string): TargetKey | null {
  const port = tunnelPort(target.slice(target.indexOf(":") + 1));
  if (port === null) return target;
  const live = liveTunnel(port);
  if (!live || live.owner !== owner || (id !== undefined && id !== live.id)) return null;
  return `${target}#${live.id}`;
}

/**
 * PHP's name for a form or query key: it drops leading spaces, cuts at a NUL byte, and the part
 * before the first "[" is the variable ("pgsql[]" is the array $_GET["pgsql"]).
 */
function phpBase(key: string): { base: string; array: boolean } {
  const k = key.replace(/^ +/, "").split("\0")[0];
  const i = k.indexOf("[");
  return { base: (i < 0 ? k : k.slice(0, i)).replace(/[ .]/g, "_"), array: i >= 0 };
}

export type TargetCheck = { ok: true; target: TargetKey | null } | { ok: false; reason: string };

/**
 * The target a query string names: null when it names none (Adminer's own static files, the
 * login page). A second driver key, an array value, a driver no instance uses or an address
 * that is neither an instance database nor written as a tunnel's is refused. A `username`
 * without a driver key is refused too: Adminer would then fall back to MySQL on localhost.
 */
export function queryTarget(params: URLSearchParams): TargetCheck {
  let target: TargetKey | null = null;
  let username = false;
  for (const [key, value] of params) {
    const { base, array } = phpBase(key);
    if (base === "username") username = true;
    if (!DRIVER_KEYS.has(base)) continue;
    if (array) return { ok: false, reason: "a database driver given as an array" };
    if (!ALLOWED_DRIVERS.has(base as AdminerLogin["driver"])) return { ok: false, reason: `driver ${base} is not used by instances` };
    if (!isInstanceDbServer(value) && tunnelPort(value) === null) return { ok: false, reason: "only an instance's own database can be opened here" };
    const t = targetKey({ driver: base as AdminerLogin["driver"], server: value });
    if (target !== null && target !== t) return { ok: false, reason: "more than one database named" };
    target = t;
  }
  if (username && target === null) return { ok: false, reason: "no database named" };
  return { ok: true, target };
}

/** True when a POSTed form carries Adminer's login fields (auth[…]); logins come only from one-time links. */
export function formHasLogin(keys: Iterable<string>): boolean {
  for (const k of keys) if (phpBase(k).base === "auth") return true;
  return false;
}
