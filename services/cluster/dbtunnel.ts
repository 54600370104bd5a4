import { randomBytes } from "node:crypto";
import net from "node:net";
import { forwardCmd, execPipe } from "../../lib/cluster/exec-pipe";
import { ConflictError } from "../../lib/errors";
import { pump, type Pipe } from "../../lib/net/pump";
import { clusterShellTarget } from "./terminal";

/**
 * Why this exists: the DB admin (Adminer, in the dashboard's network namespace) reaches a local
 * instance's database at 172.20.N.12 over the bridge into its network, but an instance of a cluster
 * has its db on an overlay on some node, which this namespace cannot route to. So for each DB admin
 * login to such an instance the dashboard listens on 127.0.0.1, on a port of a small range kept for
 * these tunnels, and carries each connection to it into the db task's container on its node: an exec
 * over the node's engine (mutual TLS) runs a forwarder to the database's own 127.0.0.1 port there.
 * A tunnel lives while its owner's dashboard session does, at most until `until`, and closes after
 * IDLE_MS without use; the DB admin proxy accepts its address only from the login that opened it.
 */
export const TUNNEL_PORT_MIN = 9110;
export const TUNNEL_PORT_MAX = 9149;
const IDLE_MS = 30 * 60_000;
const CHECK_MS = 15_000;
const DB_PORT = { postgres: 5432, mariadb: 3306 } as const;
export type DbKind = keyof typeof DB_PORT;

export interface TunnelInfo {
  /** Random, so a grant for a closed tunnel never matches a later one on the same port. */
  id: string;
  port: number;
  instance: string;
  /** Opaque: whoever opened it (services/dbadmin compares it with the requester). */
  owner: string;
}

interface Tunnel extends TunnelInfo {
  key?: string;
  lastUsed: number;
  /** Set when closing starts; the port stays reserved until its onClose has run. */
  closing: boolean;
  close(): Promise<void>;
}

export interface TunnelOptions {
  instance: string;
  owner: string;
  /**
   * Tunnels with the same key and owner are one: opening it again while it is open returns it, so
   * repeated clicks on the DB admin do not use up the range.
   */
  key?: string;
  /** Hard end (ms since the epoch): the owner's session expiry. */
  until: number;
  /** False once the owner's session is gone (logout): the tunnel closes at the next check. */
  alive?: () => boolean;
  /** Runs once the listener is closed and before the port can be taken again. */
  onClose?: (t: TunnelInfo) => void | Promise<void>;
  /** How often the ends above are checked (tests shorten it). */
  checkMs?: number;
}

const REG = Symbol.for("moodle-dind.dbadmin.tunnels");

/** Shared by the custom server's and Next's module graphs, like the grant key. */
function registry(): Map<number, Tunnel> {
  const g = globalThis as unknown as Record<symbol, Map<number, Tunnel> | undefined>;
  return (g[REG] ??= new Map());
}

const info = (t: Tunnel): TunnelInfo => ({ id: t.id, port: t.port, instance: t.instance, owner: t.owner });

/** The live tunnel on `port`, or null. */
export function liveTunnel(port: number): TunnelInfo | null {
  const t = registry().get(port);
  return t && !t.closing ? info(t) : null;
}

/** A request used the tunnel: it stays open IDLE_MS more. */
export function touchTunnel(port: number): void {
  const t = registry().get(port);
  if (t) t.lastUsed = Date.now();
}

export async function closeTunnel(port: number): Promise<void> {
  await registry().get(port)?.close();
}

function listenIn(server: net.Server): Promise<number> {
  const taken = registry();
  const tryPort = (port: number): Promise<number> => {
    if (port > TUNNEL_PORT_MAX) return Promise.reject(new ConflictError(`every DB admin tunnel port (${TUNNEL_PORT_MIN}–${TUNNEL_PORT_MAX}) is in use; try again later`));
    if (taken.has(port)) return tryPort(port + 1);
    return new Promise<number>((resolve, reject) => {
      const onError = (e: NodeJS.ErrnoException) => {
        server.off("listening", onListening);
        if (e.code === "EADDRINUSE" || e.code === "EACCES") resolve(tryPort(port + 1));
        else reject(e);
      };
      const onListening = () => {
        server.off("error", onError);
        resolve(port);
      };
      server.once("error", onError);
      server.once("listening", onListening);
      server.listen(port, "127.0.0.1");
    });
  };
  return tryPort(TUNNEL_PORT_MIN);
}

/**
 * Listen on 127.0.0.1 in the tunnel range and join every connection to a pipe from `open` (one
 * per connection). A connection whose pipe cannot be opened is closed at once.
 */
export async function openTunnel(open: () => Promise<Pipe>, opts: TunnelOptions): Promise<TunnelInfo> {
  if (opts.key !== undefined) {
    for (const t of registry().values()) {
      if (t.key === opts.key && t.owner === opts.owner && !t.closing) {
        t.lastUsed = Date.now();
        return info(t);
      }
    }
  }
  const clients = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    clients.add(client);
    client.on("close", () => clients.delete(client));
    // A client reset while its exec is still opening must not be an unhandled 'error' (it would end the dashboard).
    client.on("error", () => client.destroy());
    tunnel.lastUsed = Date.now();
    open().then(
      (p) => pump(client, p),
      () => client.destroy(),
    );
  });
  const port = await listenIn(server);
  // An accept failure (EMFILE) after listening must not be an unhandled 'error': the tunnel closes.
  server.on("error", () => void tunnel.close());
  let closing: Promise<void> | null = null;
  const tunnel: Tunnel = {
    id: randomBytes(16).toString("base64url"),
    port,
    instance: opts.instance,
    owner: opts.owner,
    key: opts.key,
    lastUsed: Date.now(),
    closing: false,
    close: () =>
      (closing ??= (async () => {
        tunnel.closing = true;
        clearInterval(timer);
        for (const c of clients) c.destroy();
        await new Promise<void>((resolve) => server.close(() => resolve()));
        await Promise.resolve(opts.onClose?.(info(tunnel))).catch(() => undefined);
        if (registry().get(port) === tunnel) registry().delete(port);
      })()),
  };
  const timer = setInterval(() => {
    const now = Date.now();
    if (now >= opts.until || now - tunnel.lastUsed >= IDLE_MS || (opts.alive && !opts.alive())) void tunnel.close();
  }, opts.checkMs ?? CHECK_MS);
  timer.unref();
  registry().set(port, tunnel);
  return info(tunnel);
}

/**
 * A tunnel to the database of cluster instance `name` (already validated), on whatever node its db
 * task runs: the task container is looked up again for each connection, so a moved instance is
 * followed.
 */
export function openDbTunnel(name: string, kind: DbKind, opts: Omit<TunnelOptions, "instance">): Promise<TunnelInfo> {
  const cmd = forwardCmd(DB_PORT[kind]);
  const open = async (): Promise<Pipe> => {
    const t = await clusterShellTarget(name, "db");
    if (!t) throw new ConflictError(`${name} is no longer a cluster instance`);
    // The forwarder needs no privilege in the db task: a TCP connection to its loopback.
    return execPipe(t.engine, t.container, cmd, { user: "nobody" });
  };
  return openTunnel(open, { ...opts, instance: name, key: `db:${name}:${kind}` });
}
