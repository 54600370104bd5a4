import net from "node:net";
import type Docker from "dockerode";
import { LABEL } from "../lib/docker";
import { serviceIp } from "../networks/subnets";
import { httpStatusOf } from "./ready";
import type { InstanceView, ServiceStatus } from "./query";

/**
 * Service health without the engine. A container health check is a `docker exec` per check for
 * the life of the container: at 100 idle instances that was 1.2 cores (docs/performance.md). So
 * containers carry no health check (stack.ts), and health is probed from here, only when someone
 * asks (a list, an info, a watched dashboard), over sockets and never by running a process:
 *
 * - db: PostgreSQL answers an SSLRequest with one byte (the postmaster, no login, nothing logged);
 *   MariaDB greets every connection first. Both on the service's fixed address.
 * - web: GET /mdind-health on the published port, answered by nginx/apache itself.
 * - app, cron: their state. php-fpm's master is the app container's main process, so it ends
 *   with the container; any probe of port 9000 would make the ondemand pool fork a worker that
 *   then idles for 20 s (the old check did that every 30 s). cron has nothing to probe.
 *
 * A failed probe reads "starting" in a container's first START_GRACE_S seconds, then "unhealthy".
 */
export const PROBE_TIMEOUT_MS = 2000;
/** Results are reused this long, so a busy list or several viewers cost one probe per service. */
export const PROBE_TTL_MS = 3000;
export const START_GRACE_S = 60;
/** How often a watched dashboard re-probes running instances (services/events.ts). */
export const WATCH_INTERVAL_MS = 10_000;
/** The most a watched dashboard takes to show a health change: one interval, one probe timeout, the event's coalescing. */
export const HEALTH_PROMISE_MS = WATCH_INTERVAL_MS + PROBE_TIMEOUT_MS + 500;

type Health = "healthy" | "unhealthy" | "starting";
const cache = new Map<string, { at: number; ok: Promise<boolean> }>();

/** Connect, optionally write `hello`, and resolve true once the peer sends at least one byte. */
function answers(host: string, port: number, hello?: Buffer): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port });
    const done = (ok: boolean) => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(PROBE_TIMEOUT_MS, () => done(false));
    sock.once("error", () => done(false));
    sock.once("connect", () => hello && sock.write(hello));
    sock.once("data", () => done(true));
    sock.once("end", () => done(false));
  });
}

/** PostgreSQL's SSLRequest: length 8, code 80877103. */
const SSL_REQUEST = Buffer.from([0, 0, 0, 8, 4, 210, 22, 47]);

function probe(view: InstanceView, service: "db" | "web"): Promise<boolean> {
  if (service === "web") return httpStatusOf(view.port, "/mdind-health", PROBE_TIMEOUT_MS).then((s) => s === 200, () => false);
  const pg = view.db.startsWith("postgres");
  return answers(serviceIp(view.n, "db"), pg ? 5432 : 3306, pg ? SSL_REQUEST : undefined);
}

function cachedProbe(view: InstanceView, service: "db" | "web", fresh: boolean): Promise<boolean> {
  const key = `${view.name}:${view.n}:${service}`;
  const hit = cache.get(key);
  if (!fresh && hit && Date.now() - hit.at < PROBE_TTL_MS) return hit.ok;
  const ok = probe(view, service);
  cache.set(key, { at: Date.now(), ok });
  return ok;
}

/** Seconds since the container started, from the engine's "Up 5 seconds" status (null: unknown). */
export function upSeconds(status: string): number | null {
  const m = /^Up (Less than a second|About a minute|(\d+) (second|minute|hour|day|week|month|year)s?)/.exec(status);
  if (!m) return null;
  if (m[1] === "Less than a second") return 0;
  if (m[1] === "About a minute") return 60;
  const unit: Record<string, number> = { second: 1, minute: 60, hour: 3600, day: 86400, week: 604800, month: 2592000, year: 31536000 };
  return Number(m[2]) * unit[m[3]];
}

export function healthOf(ok: boolean, status: string): Health {
  if (ok) return "healthy";
  const up = upSeconds(status);
  return up !== null && up < START_GRACE_S ? "starting" : "unhealthy";
}

/**
 * The views with db and web health probed for running containers (others keep null). `fresh`
 * skips the cache, for the watch loop. Never throws: a probe that fails is the answer.
 */
export async function withHealth(views: InstanceView[], containers: Docker.ContainerInfo[], opts: { fresh?: boolean } = {}): Promise<InstanceView[]> {
  return Promise.all(
    views.map(async (v) => {
      const services: ServiceStatus[] = await Promise.all(
        v.services.map(async (s) => {
          if ((s.service !== "db" && s.service !== "web") || s.state !== "running") return { ...s, health: null };
          const c = containers.find((x) => x.Labels?.[LABEL.instance] === v.name && x.Labels?.[LABEL.service] === s.service);
          return { ...s, health: healthOf(await cachedProbe(v, s.service, opts.fresh ?? false), c?.Status ?? "") };
        }),
      );
      return { ...v, services };
    }),
  );
}
