import { execOn, taskContainer } from "../../lib/cluster/engine-io";
import type { Engine } from "../../lib/cluster/swarm";
import { NotFoundError, ValidationError } from "../../lib/errors";
import { validateName } from "../../lib/names";
import { SERVICES, type Service } from "../../instances/stack";
import { serviceName } from "./stack";
import { nodeEngine, requireState } from "./state";

/**
 * Logs of an instance on any node of a cluster started here. The services write their logs to
 * files in the instance's logs/<svc>-<ver>/ folders on the node that holds its data (as on a single
 * host); the control plane has only that node's engine (mutual TLS), so it finds each folder among
 * the mounts of the service's running task container, lists it and tails a file there, by exec with
 * an argv array. File names are allowlisted; the folder must be one of the container's log mounts.
 */
export interface ClusterLogFile {
  service: Service;
  /** "<svc>-<ver>/<file>", as for a local instance. */
  path: string;
  size: number;
}

const DIR_RE = /^[a-z]+-[0-9.]{1,10}$/;
const FILE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
export const CLUSTER_LOG_MAX_LINES = 5000;

interface Folder { service: Service; container: string; dir: string; target: string }

async function logFolders(name: string): Promise<{ folders: Folder[]; node: string; engine: Engine }> {
  validateName(name);
  const s = await requireState();
  const inst = s.instances[name];
  if (!inst) throw new NotFoundError(`no cluster instance '${name}'`);
  // Every service of an instance is constrained to the node holding its data.
  const engine = await nodeEngine(s, inst.node);
  const marker = `/instances/${name}/logs/`;
  const folders: Folder[] = [];
  for (const service of SERVICES) {
    const id = await taskContainer(engine, serviceName(name, service));
    if (!id) continue;
    const info = await engine.getContainer(id).inspect();
    for (const m of info.Mounts ?? []) {
      const i = m.Source.indexOf(marker);
      const dir = i >= 0 ? m.Source.slice(i + marker.length) : "";
      // A folder another service owns (cron also mounts php's) is listed once, from its owner.
      if (!DIR_RE.test(dir) || folders.some((f) => f.dir === dir)) continue;
      folders.push({ service, container: id, dir, target: m.Destination });
    }
  }
  return { folders, node: inst.node, engine };
}

export async function clusterLogFiles(name: string): Promise<{ node: string; files: ClusterLogFile[] }> {
  const { folders, node, engine } = await logFolders(name);
  const files: ClusterLogFile[] = [];
  for (const f of folders) {
    const r = await execOn(engine, f.container, ["find", f.target, "-maxdepth", "1", "-type", "f", "-printf", "%f\\t%s\\n"], { check: false });
    for (const line of r.stdout.toString().split("\n")) {
      const [file, size] = line.split("\t");
      if (!file || !FILE_RE.test(file) || file.endsWith(".json")) continue;
      files.push({ service: f.service, path: `${f.dir}/${file}`, size: Number(size) || 0 });
    }
  }
  return { node, files: files.sort((a, b) => a.path.localeCompare(b.path)) };
}

/** The last `lines` lines of one listed log file. */
export async function clusterLogTail(name: string, rel: string, lines: number): Promise<{ node: string; path: string; text: string }> {
  const [dir, file, ...rest] = rel.split("/");
  if (rest.length || !DIR_RE.test(dir ?? "") || !FILE_RE.test(file ?? "")) throw new ValidationError("file: a path from the log file list, like nginx-1.22/access.log", "file");
  const n = Math.max(1, Math.min(Math.trunc(lines) || 200, CLUSTER_LOG_MAX_LINES));
  const { folders, node, engine } = await logFolders(name);
  const f = folders.find((x) => x.dir === dir);
  if (!f) throw new NotFoundError(`no log folder ${dir} for ${name}`);
  const r = await execOn(engine, f.container, ["tail", "-n", String(n), "--", `${f.target}/${file}`], { check: false });
  if (r.exitCode !== 0) throw new NotFoundError(`no log file ${rel}: ${r.stderr.trim().slice(0, 200)}`);
  return { node, path: rel, text: r.stdout.toString() };
}
