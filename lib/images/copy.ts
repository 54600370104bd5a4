import type Docker from "dockerode";
import { followProgress } from "../docker";
import { EngineError, engineError } from "../errors";

/**
 * Images copied from one engine to another (`docker save | docker load` through both APIs), for
 * cluster nodes: there is no registry, so a node gets what an instance needs from the engine that
 * has it. Only the refs the target lacks are copied; returns those.
 */
export async function copyImages(from: Docker, to: Docker, refs: string[], log: (l: string) => void): Promise<string[]> {
  const copied: string[] = [];
  for (const ref of refs) {
    if (await to.getImage(ref).inspect().then(() => true, () => false)) continue;
    if (!(await from.getImage(ref).inspect().then(() => true, () => false))) {
      throw new EngineError(`${ref} is on neither engine: preload it on this host first (shared-images/, or the Images page)`);
    }
    const src = await from.getImage(ref).get().catch((e: unknown) => {
      throw engineError(`reading ${ref}`, e);
    });
    const res = (await to.loadImage(src, { quiet: true }).catch((e: unknown) => {
      throw engineError(`loading ${ref} onto the node`, e);
    })) as NodeJS.ReadableStream;
    await followProgress(res);
    log(`${ref} copied onto the node`);
    copied.push(ref);
  }
  return copied;
}
