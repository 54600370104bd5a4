import type { Readable } from "node:stream";
import tarFs from "tar-fs";
import { missingOn, runOn, writeFolder } from "../../lib/cluster/engine-io";
import type { Engine } from "../../lib/cluster/swarm";
import { resolveBuild } from "../../lib/moodle/library";
import { BUILD_ID_RE, libraryDir } from "../../lib/moodle/paths";
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

/** The branch of a recorded build id (its first part), or the fixture's. */
export const branchOfId = (id: string): string => (BUILD_ID_RE.test(id) ? id.split("-")[0] : FIXTURE);

/**
 * Put build `id` into the node's library unless it is there. Written under a stage name and
 * renamed when whole, as the library itself adds builds, so a copy cut off halfway is never
 * taken for a build (the next one starts over).
 */
export async function ensureBuildOn(engine: Engine, image: string, id: string, log: (l: string) => void): Promise<void> {
  if (id === FIXTURE) return;
  if (!BUILD_ID_RE.test(id)) throw new Error(`not a build id: ${id}`);
  if ((await missingOn(engine, image, NODE_LIBRARY, [`${NODE_LIBRARY}/${id}/build.json`])).length === 0) return;
  // Two creates may copy the same build at once: each into its own stage.
  const stage = `.incoming-${id}-${process.pid}-${Date.now().toString(36)}`;
  const started = Date.now();
  log(`Moodle ${id}: copying the build to the node's library`);
  await runOn(engine, image, "/", ["mkdir", "-p", `/mnt${NODE_LIBRARY}`]);
  await runOn(engine, image, NODE_LIBRARY, ["rm", "-rf", `/mnt/${stage}`]);
  const pack = tarFs.pack(libraryDir(), {
    entries: [id],
    map: (h) => ({ ...h, name: stage + h.name.slice(id.length) }),
  }) as unknown as Readable;
  try {
    await writeFolder(engine, image, NODE_LIBRARY, pack);
    await runOn(engine, image, NODE_LIBRARY, ["mv", "-T", `/mnt/${stage}`, `/mnt/${id}`]).catch(async (e: unknown) => {
      // The other copy won the rename: the build is there, which is all that was wanted.
      if ((await missingOn(engine, image, NODE_LIBRARY, [`${NODE_LIBRARY}/${id}/build.json`])).length) throw e;
    });
  } finally {
    await runOn(engine, image, NODE_LIBRARY, ["rm", "-rf", `/mnt/${stage}`]).catch(() => undefined);
  }
  log(`Moodle ${id}: on the node in ${((Date.now() - started) / 1000).toFixed(0)} s`);
}
