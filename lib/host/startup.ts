import { settings } from "../config";
import { ensureNetwork, ensureSharedNetwork } from "../../networks/subnets";
import { preloadDir, runPreload } from "../images/preload";

/**
 * What the dashboard runs once at start inside the DinD host (MDIND_IN_HOST=1), after reconcile:
 * pre-create the shared network and the first block of instance networks (so the first creates
 * skip network setup and their subnets are reserved), then preload shared-images/*.tar. The
 * preload is not awaited: the UI comes up at once and shows its progress (GET /api/v1/preload).
 */
export type HostLog = (event: string, fields?: Record<string, unknown>) => void;

export async function precreateNetworks(log: HostLog): Promise<number> {
  let made = 0;
  try {
    await ensureSharedNetwork();
  } catch (e) {
    log("network_precreate_failed", { network: "shared", error: (e as Error).message });
  }
  const count = Math.min(Math.max(settings().preallocatedNetworks, 0), 254);
  for (let n = 1; n <= count; n++) {
    try {
      await ensureNetwork(n);
      made++;
    } catch (e) {
      // A subnet someone else holds is skipped, not fatal: allocation already steps around it.
      log("network_precreate_failed", { n, error: (e as Error).message });
    }
  }
  log("networks_ready", { shared: true, instanceNetworks: made });
  return made;
}

export async function hostStartup(log: HostLog): Promise<void> {
  await precreateNetworks(log);
  void runPreload(preloadDir(), { log }).catch((e: unknown) => log("preload_crashed", { error: (e as Error).message }));
}
