import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll } from "vitest";

/**
 * A temp MDIND_HOME holding a `cluster up` record (cluster "t", manager t-node1, ports 8000–8009)
 * with `instances`, for unit tests of the cluster services and routes; removed after the file.
 */
export function tempClusterHome(prefix: string, instances: Record<string, unknown>): string {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  process.env.MDIND_HOME = home;
  afterAll(() => fs.rmSync(home, { recursive: true, force: true }));
  fs.mkdirSync(path.join(home, "cluster"), { recursive: true });
  const state = { name: "t", network: "t-cluster", subnet: "10.213.7.0/24", portMin: 8000, portMax: 8009, nodes: [], manager: "t-node1", instances };
  fs.writeFileSync(path.join(home, "cluster", "state.json"), JSON.stringify(state));
  return home;
}
