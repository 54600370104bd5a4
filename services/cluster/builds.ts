import type { Readable } from "node:stream";
import tarFs from "tar-fs";
import { missingOn, runOn, writeFolder } from "../../lib/cluster/engine-io";
import type { Engine } from "../../lib/cluster/swarm";
import { EngineError } from "../../lib/errors";
import { resolveBuild } from "../../lib/moodle/library";
import { BUILD_ID_RE, libraryDir } from "../../lib/moodle/paths";
import { readBuilds } from "../../lib/moodle/store";
import { NODE_HOME } from "./stack";

/**
 * The Moodle a cluster instance runs: a build of this host's library (the same choice as a single
 * host's create: "auto" is the newest, or a branch, release or build id), or the fixture app.
 * Builds go to a node's own library (its moodle-dind's, in the cluster data dir) through the
 * node's engine, once per node.
 */
export const FIXTURE = "fixture";

/** The node CLI's library: lib/moodle/paths.ts's layout under the cluster data dir. */
const NODE_LIBRARY = `${NODE_HOME}/cache/moodle`;
/** A stage this old is a copy whose control plane died: no copy of a build takes hours. */
const STAGE_STALE_MINUTES = 180;

export interface ClusterMoodle {
  /** A build id, or "fixture". */
  id: string;
  branch: string;
  release: string;
}

/** What `want` names in this host's library; the library's own message (and how to add one) when nothing. */
export async function resolveClusterMoodle(want: string): Promise<ClusterMoodle> {
  if (want === FIXTURE) return { id: FIXTURE, branch: FIXTURE, release: "fixture app" };
  const b = await resolveBuild(want);
  return { id: b.id, branch: b.branch, release: b.release };
}

/** What a person reads for a recorded build: its release from this host's library (its id when removed since), or "fixture app". */
export async function releaseLabels(): Promise<(id: string | undefined) => string> {
  const builds = await readBuilds();
  return (id) => (!id || id === FIXTURE ? "fixture app" : `Moodle ${builds.find((b) => b.id === id)?.release ?? id}`);
}

/** The branch of a recorded build id (its first part), or the fixture's. */
export const branchOfId = (id: string): string => (BUILD_ID_RE.test(id) ? id.split("-")[0] : FIXTURE);

const hasBuild = async (engine: Engine, image: string, dir: string) => (await missingOn(engine, image, NODE_LIBRARY, [`${NODE_LIBRARY}/${dir}/build.json`])).length === 0;

/**
 * Put build `id` into the node's library unless it is there. Written under a stage name, with
 * build.json last, and renamed only when build.json arrived, as the library itself adds builds:
 * a copy cut off halfway (or of a build removed meanwhile) is never taken for a build.
 */
export async function ensureBuildOn(engine: Engine, image: string, id: string, log: (l: string) => void): Promise<void> {
  if (id === FIXTURE) return;
  if (!BUILD_ID_RE.test(id)) throw new EngineError(`not a build id: ${id}`);
  if (await hasBuild(engine, image, id)) return;
  // Two creates may copy the same build at once: each into its own stage.
  const stage = `.incoming-${id}-${process.pid}-${Date.now().toString(36)}`;
  const started = Date.now();
  log(`Moodle ${id}: copying the build to the node's library`);
  await runOn(engine, image, "/", ["mkdir", "-p", `/mnt${NODE_LIBRARY}`]);
  // Stages left by a control plane that died mid-copy (hundreds of MB each).
  await runOn(engine, image, NODE_LIBRARY, ["find", "/mnt", "-mindepth", "1", "-maxdepth", "1", "-name", ".incoming-*", "-mmin", `+${STAGE_STALE_MINUTES}`, "-exec", "rm", "-rf", "{}", "+"]);
  // Modes as they are in the library (no umask: instances hard-link these files and www-data reads them).
  const opts = { entries: [`${id}/tree`, `${id}/build.json`], umask: 0, map: (h: tarFs.Headers) => ({ ...h, name: stage + h.name.slice(id.length) }) };
  const pack = tarFs.pack(libraryDir(), opts as tarFs.PackOptions) as unknown as Readable;
  try {
    await writeFolder(engine, image, NODE_LIBRARY, pack);
    if (!(await hasBuild(engine, image, stage))) throw new EngineError(`Moodle ${id} changed in the library while it was copied to the node (removed?); try again`);
    await runOn(engine, image, NODE_LIBRARY, ["mv", "-T", `/mnt/${stage}`, `/mnt/${id}`]).catch(async (e: unknown) => {
      // The other copy won the rename: the build is there, which is all that was wanted.
      if (!(await hasBuild(engine, image, id))) throw e;
    });
  } finally {
    await runOn(engine, image, NODE_LIBRARY, ["rm", "-rf", `/mnt/${stage}`]).catch(() => undefined);
  }
  log(`Moodle ${id}: on the node in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
