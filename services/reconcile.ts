import fs from "node:fs/promises";
import { docker, LABEL, listManagedContainers, destroyContainer, listManagedNetworks } from "../lib/docker";
import { paths, settings } from "../lib/config";

import { pidAlive, withRegistry } from "../lib/allocation";
import { isBusy } from "../lib/operations";
import { networkName, nFromSubnet } from "../networks/subnets";
import { recordFile } from "../instances/store";

/**
 * Bring the registry, the folders and the engine back into agreement after a crash or restart.
 * A create whose owner died is rolled back; anything labelled ours that no instance claims is
 * removed. With `dryRun` it only reports. Returns what it found (empty lists = consistent).
 */
export interface ReconcileReport {
  rolledBack: string[];
  orphanContainers: string[];
  orphanNetworks: string[];
  orphanFolders: string[];
  consistent: boolean;
}

async function exists(p: string) {
  return fs.access(p).then(() => true, () => false);
}

export async function reconcile(opts: { dryRun?: boolean } = {}): Promise<ReconcileReport> {
  const report: ReconcileReport = { rolledBack: [], orphanContainers: [], orphanNetworks: [], orphanFolders: [], consistent: true };
  const d = docker();
  await withRegistry(async (r) => {
    for (const [name, a] of Object.entries(r.instances)) {
      const abandoned = (a.state === "creating" || a.state === "removing") && !isBusy(name) && (a.pid === process.pid ? !isBusy(name) : !pidAlive(a.pid));
      const noRecord = !(await exists(recordFile(name)));
      if (abandoned || noRecord) {
        report.rolledBack.push(name);
        if (!opts.dryRun) delete r.instances[name];
      }
    }
    const live = new Set(Object.keys(r.instances));
    const liveN = new Set(Object.values(r.instances).map((a) => a.n));

    const containers = await listManagedContainers();
    for (const c of containers) {
      const inst = c.Labels?.[LABEL.instance];
      if (!inst || live.has(inst) || isBusy(inst)) continue;
      report.orphanContainers.push(c.Names?.[0]?.replace(/^\//, "") ?? c.Id);
      if (!opts.dryRun) await destroyContainer(c.Id).catch(() => undefined);
    }

    const nets = await listManagedNetworks();
    for (const net of nets) {
      const n = nFromSubnet(net.IPAM?.Config?.[0]?.Subnet ?? "");
      if (n === null || liveN.has(n) || n <= settings().preallocatedNetworks || net.Name !== networkName(n)) continue;
      const info = await d.getNetwork(net.Id).inspect().catch(() => null);
      if (info && Object.keys(info.Containers ?? {}).length > 0) continue;
      report.orphanNetworks.push(net.Name);
      if (!opts.dryRun) await d.getNetwork(net.Id).remove().catch(() => undefined);
    }

    let folders: string[] = [];
    try {
      folders = await fs.readdir(paths.instances());
    } catch {
      folders = [];
    }
    for (const f of folders) {
      if (live.has(f) || isBusy(f)) continue;
      report.orphanFolders.push(f);
      if (!opts.dryRun) await fs.rm(paths.instance(f), { recursive: true, force: true });
    }
  });
  report.consistent =
    report.rolledBack.length + report.orphanContainers.length + report.orphanNetworks.length + report.orphanFolders.length === 0;
  return report;
}
