import net from "node:net";
import { docker } from "../lib/docker";
import { engineError } from "../lib/errors";

/**
 * Host ports come from one range (8000–8099 by default), one per instance. A port is free only
 * when the registry, the engine and the host all agree: another program may hold it.
 */
export async function pickPort(
  used: Set<number>,
  min: number,
  max: number,
  isFree: (p: number) => boolean | Promise<boolean>,
): Promise<number | null> {
  for (let p = min; p <= max; p++) if (!used.has(p) && (await isFree(p))) return p;
  return null;
}

/** True when nothing on this host listens on `port` (checked on the bind address and on all addresses). */
export function hostPortFree(port: number, address: string): Promise<boolean> {
  const tryListen = (host: string) =>
    new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once("error", (e: NodeJS.ErrnoException) => resolve(e.code !== "EADDRINUSE" && e.code !== "EACCES"));
      srv.listen({ port, host, exclusive: true }, () => srv.close(() => resolve(true)));
    });
  return (async () => (await tryListen(address)) && (address === "0.0.0.0" || (await tryListen("0.0.0.0"))))();
}

/** Host ports published by any container on the engine, running or not. */
export async function enginePublishedPorts(): Promise<Set<number>> {
  const out = new Set<number>();
  try {
    const list = await docker().listContainers({ all: true });
    for (const c of list) {
      for (const p of c.Ports ?? []) if (p.PublicPort) out.add(p.PublicPort);
    }
    // Stopped containers list no Ports; their HostConfig still reserves the binding.
    const stopped = list.filter((c) => c.State !== "running");
    for (const c of stopped) {
      const info = await docker().getContainer(c.Id).inspect().catch(() => null);
      for (const binds of Object.values(info?.HostConfig?.PortBindings ?? {})) {
        for (const b of (binds as { HostPort?: string }[] | null) ?? []) {
          const p = Number(b.HostPort);
          if (p) out.add(p);
        }
      }
    }
  } catch (e) {
    throw engineError("listing published ports", e);
  }
  return out;
}
