import { PassThrough, type Readable } from "node:stream";
import { docker } from "../lib/docker";
import { engineError, ValidationError } from "../lib/errors";
import { SERVICES, containerName, type Service } from "./stack";
import { readRecord } from "./store";

/** Logs and exec into an instance's services. Targets are validated against what exists. */
export function parseService(s: unknown): Service {
  if (typeof s !== "string" || !(SERVICES as readonly string[]).includes(s)) {
    throw new ValidationError(`service must be one of ${SERVICES.join(", ")}`, "service");
  }
  return s as Service;
}

export interface LogOptions {
  tail?: number;
  follow?: boolean;
  sinceSeconds?: number;
  timestamps?: boolean;
}

/** A demuxed text stream of a service's container output. The caller destroys it to stop following. */
export async function serviceLogs(name: string, service: Service, opts: LogOptions = {}): Promise<Readable> {
  await readRecord(name);
  const tail = Math.max(0, Math.min(opts.tail ?? 200, 10_000));
  const c = docker().getContainer(containerName(name, service));
  const out = new PassThrough();
  try {
    const common = {
      stdout: true,
      stderr: true,
      tail,
      timestamps: opts.timestamps ?? false,
      since: opts.sinceSeconds ? Math.floor(Date.now() / 1000) - opts.sinceSeconds : undefined,
    };
    if (opts.follow) {
      const raw = await c.logs({ ...common, follow: true });
      docker().modem.demuxStream(raw, out, out);
      raw.on("end", () => out.end());
      out.on("close", () => (raw as unknown as { destroy?: () => void }).destroy?.());
    } else {
      const buf = await c.logs({ ...common, follow: false });
      // Non-follow logs come back as one multiplexed buffer.
      const src = new PassThrough();
      docker().modem.demuxStream(src, out, out);
      src.on("end", () => out.end());
      src.end(buf);
    }
  } catch (e) {
    throw engineError(`logs of ${containerName(name, service)}`, e);
  }
  return out;
}

/** Where a shell for a service starts and as whom; used by `exec` and the web terminal. */
export function serviceShellDefaults(service: Service): { user?: string; workdir?: string } {
  if (service === "app" || service === "cron") return { user: "www-data", workdir: "/var/www/moodle" };
  return {};
}
