import { readJsonOn } from "../../lib/cluster/engine-io";
import { NotFoundError } from "../../lib/errors";
import { validateName } from "../../lib/names";
import type { InstanceRecord, Secrets } from "../../instances/store";
import { publicHost } from "../../instances/lifecycle";
import { FIXTURE, releaseLabels } from "./builds";
import { listClusterInstances } from "./instances";
import { HELPER_IMAGE, NODE_INSTANCES } from "./stack";
import { nodeEngine, readState, requireState, type ClusterInstance } from "./state";

/**
 * One cluster instance as a user needs it to use the site: where it answers (the wwwroot its node
 * rendered) and, asked for explicitly, Moodle's admin login, read from its folder on its node
 * over that node's engine. The database password never leaves the node.
 */
export interface ClusterInstanceInfo extends Omit<ClusterInstance, "snapshot"> {
  /** When its latest snapshot was taken (the file stays the control plane's business). */
  snapshotAt: string | null;
  url: string;
  release: string;
  adminUser: string;
  adminPassword?: string;
}

export async function clusterInstanceInfo(nameIn: string, opts: { showPassword?: boolean } = {}): Promise<ClusterInstanceInfo> {
  const name = validateName(nameIn);
  const s = await requireState();
  const inst = s.instances[name];
  if (!inst) throw new NotFoundError(`no cluster instance ${name}`);
  const engine = await nodeEngine(s, inst.node);
  const rec = await readJsonOn<InstanceRecord>(engine, HELPER_IMAGE, NODE_INSTANCES, `${name}/instance.json`);
  const sec = await readJsonOn<Secrets>(engine, HELPER_IMAGE, NODE_INSTANCES, `${name}/secrets.json`);
  const { snapshot, ...rest } = inst;
  return {
    ...rest,
    snapshotAt: snapshot?.at ?? null,
    moodle: inst.moodle ?? FIXTURE,
    url: rec.url,
    release: rec.source.release,
    adminUser: sec.adminUser,
    ...(opts.showPassword ? { adminPassword: sec.adminPassword } : {}),
  };
}

/** A cluster site as the Instances page lists it beside the host's own. */
export interface ClusterSiteRow {
  name: string;
  node: string;
  port: number;
  running: boolean;
  release: string;
  url: string;
}

/**
 * The cluster's sites for the Instances page, from the cluster record and the manager's task list
 * only (no node is read): no cluster is an empty list, not an error, since most hosts have none.
 */
export async function listClusterSites(): Promise<{ cluster: string | null; sites: ClusterSiteRow[] }> {
  const s = await readState();
  if (!s) return { cluster: null, sites: [] };
  const [rows, release] = await Promise.all([listClusterInstances(), releaseLabels()]);
  return {
    cluster: s.name,
    sites: rows.map((r) => ({ name: r.name, node: r.node, port: r.port, running: r.running, release: release(r.moodle), url: `http://${publicHost()}:${r.port}/` })),
  };
}
