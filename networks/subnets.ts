import { abandonedHome, docker, homeId, LABEL, managedLabels } from "../lib/docker";
import { ConflictError, engineError } from "../lib/errors";

/**
 * Instance networks are 172.20.N.0/24, N in 1..254, named mdind-n<N> so the name follows from the
 * allocation alone (a crashed create can always find what it made). The shared network is
 * 172.21.0.0/16. Services get fixed addresses so the DB admin and mail catcher can identify them.
 */
export const N_MIN = 1;
export const N_MAX = 254;
export const SHARED_NETWORK = { name: "mdind-shared", subnet: "172.21.0.0/16", gateway: "172.21.0.1" };

export const SERVICE_HOST: Record<string, number> = { web: 10, app: 11, db: 12, cron: 13 };

export const subnetFor = (n: number) => `172.20.${n}.0/24`;
export const gatewayFor = (n: number) => `172.20.${n}.1`;
export const networkName = (n: number) => `mdind-n${n}`;
export const serviceIp = (n: number, service: string) => `172.20.${n}.${SERVICE_HOST[service] ?? 20}`;

const SUBNET_RE = /^172\.20\.(\d{1,3})\.0\/24$/;

/** N from a 172.20.N.0/24 CIDR, or null. */
export function nFromSubnet(cidr: string): number | null {
  const m = SUBNET_RE.exec(cidr);
  if (!m) return null;
  const n = Number(m[1]);
  return n >= N_MIN && n <= N_MAX ? n : null;
}

/** N from a 172.20.N.x address (the mail catcher maps a client address to its instance this way). */
export function nFromAddress(ip: string): number | null {
  const m = /^(?:::ffff:)?172\.20\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return null;
  const n = Number(m[1]);
  return n >= N_MIN && n <= N_MAX ? n : null;
}

/** Lowest N in range that is not in `used`, or null when the pool is exhausted. */
export function pickN(used: Set<number>, min = N_MIN, max = N_MAX): number | null {
  for (let n = min; n <= max; n++) if (!used.has(n)) return n;
  return null;
}

/**
 * Any container, stopped ones included, on the network or of its data dir. The engine lists only
 * running containers on a network, and lets a network be removed under stopped ones, which could
 * then never start again.
 */
async function anyContainerOf(name: string, home: string): Promise<boolean> {
  const on = await docker().listContainers({ all: true, filters: { network: [name] } });
  if (on.length > 0) return true;
  const theirs = await docker().listContainers({ all: true, filters: { label: [`${LABEL.home}=${home}`] } });
  return theirs.length > 0;
}

/**
 * Every 172.20.N the engine holds, whoever made it: never hand out an N whose subnet is taken.
 * `ours` is true for a network named mdind-n<N> that this data dir made (pre-created or left over);
 * `abandoned` for one of a data dir that is gone (abandonedHome).
 */
export async function enginesUsedN(): Promise<Map<number, { name: string; ours: boolean; abandoned: boolean }>> {
  const out = new Map<number, { name: string; ours: boolean; abandoned: boolean }>();
  try {
    const nets = await docker().listNetworks();
    for (const net of nets) {
      for (const cfg of net.IPAM?.Config ?? []) {
        const n = cfg.Subnet ? nFromSubnet(cfg.Subnet) : null;
        if (n === null) continue;
        const named = net.Name === networkName(n);
        out.set(n, { name: net.Name, ours: named && net.Labels?.[LABEL.home] === homeId(), abandoned: named && abandonedHome(net.Labels) });
      }
    }
  } catch (e) {
    throw engineError("listing networks", e);
  }
  return out;
}

/** True when no container is attached to the network (a pre-created or leftover one). */
export async function networkIdle(name: string): Promise<boolean> {
  const info = await docker().getNetwork(name).inspect().catch(() => null);
  return !!info && Object.keys(info.Containers ?? {}).length === 0;
}

/** Create mdind-n<N> (idempotent: an existing network with the right subnet is reused). */
export async function ensureNetwork(n: number): Promise<string> {
  const name = networkName(n);
  try {
    const existing = await docker().getNetwork(name).inspect().catch(() => null);
    if (existing) {
      const sub = existing.IPAM?.Config?.[0]?.Subnet;
      const ours = existing.Labels?.[LABEL.home] === homeId();
      // Reuse only our own network (pre-created or from this instance's last start), never one
      // another data dir on the same engine claimed in the meantime.
      if (sub === subnetFor(n) && ours) return name;
      throw new ConflictError(`network ${name} (${subnetFor(n)}) belongs to someone else on this engine; try again`);
    }
    await docker().createNetwork({
      Name: name,
      Driver: "bridge",
      CheckDuplicate: true,
      IPAM: { Driver: "default", Config: [{ Subnet: subnetFor(n), Gateway: gatewayFor(n) }] },
      Labels: managedLabels({ [LABEL.n]: String(n) }),
    });
    return name;
  } catch (e) {
    throw engineError(`creating network ${name} (${subnetFor(n)})`, e);
  }
}

/**
 * Claim 172.20.N for this data dir by creating mdind-n<N> now. False when another data dir on the
 * same engine got there first (its network by that name, or an overlapping subnet): the engine
 * itself is the arbiter, because two data dirs' registries never see each other's locks.
 */
export async function claimNetwork(n: number): Promise<boolean> {
  try {
    await ensureNetwork(n);
    return true;
  } catch (e) {
    if (e instanceof ConflictError || /overlaps/i.test(String((e as Error).message))) return false;
    throw e;
  }
}

/**
 * Remove an abandoned mdind-n<N> (enginesUsedN) if nothing is attached to it, so that N can be
 * claimed again. True when it is gone.
 */
export async function reclaimAbandoned(n: number): Promise<boolean> {
  const info = await docker().getNetwork(networkName(n)).inspect().catch(() => null);
  if (!info || !abandonedHome(info.Labels) || Object.keys(info.Containers ?? {}).length > 0) return false;
  if (await anyContainerOf(info.Name, info.Labels?.[LABEL.home] ?? "")) return false;
  try {
    await docker().getNetwork(networkName(n)).remove();
    return true;
  } catch (e) {
    return (e as { statusCode?: number }).statusCode === 404;
  }
}

/** Remove our mdind-n<N>; one of the same name that another data dir made is left alone. */
export async function removeNetwork(n: number): Promise<void> {
  try {
    const info = await docker().getNetwork(networkName(n)).inspect().catch(() => null);
    if (!info || info.Labels?.[LABEL.home] !== homeId()) return;
    await docker().getNetwork(networkName(n)).remove();
  } catch (e) {
    const code = (e as { statusCode?: number }).statusCode;
    if (code !== 404) throw engineError(`removing network ${networkName(n)}`, e);
  }
}

export async function ensureSharedNetwork(): Promise<string> {
  const d = docker();
  const existing = await d.getNetwork(SHARED_NETWORK.name).inspect().catch(() => null);
  if (existing) return SHARED_NETWORK.name;
  try {
    await d.createNetwork({
      Name: SHARED_NETWORK.name,
      Driver: "bridge",
      CheckDuplicate: true,
      IPAM: { Driver: "default", Config: [{ Subnet: SHARED_NETWORK.subnet, Gateway: SHARED_NETWORK.gateway }] },
      Labels: managedLabels({ [LABEL.n]: "shared" }),
    });
  } catch (e) {
    throw engineError("creating the shared network", e);
  }
  return SHARED_NETWORK.name;
}

/** Attach (or detach) containers to the shared network; both are idempotent. */
export async function setShared(containerNames: string[], connected: boolean): Promise<void> {
  if (connected) await ensureSharedNetwork();
  const net = docker().getNetwork(SHARED_NETWORK.name);
  for (const c of containerNames) {
    try {
      if (connected) await net.connect({ Container: c });
      else await net.disconnect({ Container: c, Force: true });
    } catch (e) {
      const err = e as { statusCode?: number; json?: { message?: string } };
      const msg = err.json?.message ?? "";
      // Already in the wanted state is success.
      if (connected && /already exists|endpoint with name/i.test(msg)) continue;
      if (!connected && (err.statusCode === 404 || /is not connected/i.test(msg))) continue;
      throw engineError(`${connected ? "connecting" : "disconnecting"} ${c} to the shared network`, e);
    }
  }
}
