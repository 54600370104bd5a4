import path from "node:path";
import { settings, paths } from "./config";
import { ConflictError, AppError } from "./errors";
import { readJson, withFileLock, writeFileAtomic } from "./lock";
import { claimNetwork, enginesUsedN, networkIdle, pickN, reclaimAbandoned, removeNetwork, subnetFor } from "../networks/subnets";
import { enginePublishedPorts, hostPortFree, pickPort } from "../networks/ports";

/**
 * The allocation registry: which instance holds which N and port. It is the one record that is
 * written under the state lock, so allocation is atomic across processes. An entry starts as
 * "creating" (with the owning pid) and becomes "ready"; reconcile treats a "creating" entry whose
 * owner is gone as a half-made instance to roll back.
 */
export interface Allocation {
  name: string;
  n: number;
  port: number;
  subnet: string;
  state: "creating" | "ready" | "removing";
  pid: number;
  createdAt: string;
}

interface Registry {
  version: 1;
  instances: Record<string, Allocation>;
}

const registryFile = () => path.join(paths.state(), "allocations.json");
const lockFile = () => path.join(paths.state(), "allocations.lock");

export async function readRegistry(): Promise<Registry> {
  return readJson<Registry>(registryFile(), { version: 1, instances: {} });
}

async function writeRegistry(r: Registry): Promise<void> {
  await writeFileAtomic(registryFile(), JSON.stringify(r, null, 2));
}

export function withRegistry<T>(fn: (r: Registry) => Promise<T>): Promise<T> {
  return withFileLock(lockFile(), async () => {
    const r = await readRegistry();
    const out = await fn(r);
    await writeRegistry(r);
    return out;
  });
}

/**
 * Reserve N and a port for `name`. `extra` runs inside the lock after the reservation is recorded
 * (the instance folder and record are made there) so a failure rolls all of it back together.
 */
export async function allocate(name: string, extra?: (a: Allocation) => Promise<void>): Promise<Allocation> {
  const s = settings();
  return withFileLock(lockFile(), async () => {
    const r = await readRegistry();
    if (r.instances[name]) throw new ConflictError(`an instance named '${name}' already exists`, "name");
    const usedN = new Set(Object.values(r.instances).map((a) => a.n));
    const engineN = await enginesUsedN();
    let n: number | null = null;
    let claimed = false;
    for (;;) {
      n = pickN(usedN);
      if (n === null) break;
      const net = engineN.get(n);
      // Our own pre-created or left-over mdind-n<N> with nothing attached is free, and so is one a
      // removed data dir left behind (reclaimed here); anything else is taken. A free N is claimed
      // on the engine at once: another data dir sharing the engine (a test run beside a dashboard)
      // may be picking the same N right now.
      const free = net === undefined || (net.abandoned && (await reclaimAbandoned(n)));
      if (free && (await claimNetwork(n))) {
        claimed = true;
        break;
      }
      if (net !== undefined && net.ours && (await networkIdle(net.name))) break;
      usedN.add(n);
    }
    if (n === null) throw new ConflictError("the subnet pool 172.20.1–254.0/24 is full: remove an instance first");
    const chosen = n;

    try {
      const usedPorts = new Set(Object.values(r.instances).map((a) => a.port));
      for (const p of await enginePublishedPorts()) usedPorts.add(p);
      const port = await pickPort(usedPorts, s.portMin, s.portMax, (p) => hostPortFree(p, s.bindAddress));
      if (port === null) {
        throw new ConflictError(`the port pool ${s.portMin}–${s.portMax} is full (every port is allocated or bound on the host)`);
      }
      const a: Allocation = { name, n: chosen, port, subnet: subnetFor(chosen), state: "creating", pid: process.pid, createdAt: new Date().toISOString() };
      if (extra) await extra(a);
      r.instances[name] = a;
      await writeRegistry(r);
      return a;
    } catch (e) {
      // Allocation is one step: a network claimed for a reservation that failed (a full disk
      // refusing the registry write included) goes with it.
      if (claimed && chosen > settings().preallocatedNetworks) await removeNetwork(chosen).catch(() => undefined);
      throw e;
    }
  });
}

export async function setAllocationState(name: string, state: Allocation["state"]): Promise<void> {
  await withRegistry(async (r) => {
    const a = r.instances[name];
    if (!a) throw new AppError("not_found", `no allocation for '${name}'`);
    a.state = state;
    a.pid = process.pid;
  });
}

export async function release(name: string): Promise<void> {
  await withRegistry(async (r) => {
    delete r.instances[name];
  });
}

export async function getAllocation(name: string): Promise<Allocation | null> {
  return (await readRegistry()).instances[name] ?? null;
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
