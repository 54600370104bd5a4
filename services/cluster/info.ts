import { readJsonOn } from "../../lib/cluster/engine-io";
import { NotFoundError } from "../../lib/errors";
import { validateName } from "../../lib/names";
import type { InstanceRecord, Secrets } from "../../instances/store";
import { HELPER_IMAGE, NODE_INSTANCES } from "./stack";
import { nodeEngine, requireState, type ClusterInstance } from "./state";

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
    moodle: inst.moodle ?? "fixture",
    url: rec.url,
    release: rec.source.release,
    adminUser: sec.adminUser,
    ...(opts.showPassword ? { adminPassword: sec.adminPassword } : {}),
  };
}
