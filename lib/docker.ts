import Docker from "dockerode";
import { createHash } from "node:crypto";
import { settings } from "./config";
import { EngineError } from "./errors";

/** Label keys put on every container, network and volume we create. */
export const LABEL = {
  managed: "org.moodle-dind.managed",
  instance: "org.moodle-dind.instance",
  service: "org.moodle-dind.service",
  n: "org.moodle-dind.n",
  recipe: "org.moodle-dind.recipe",
  kind: "org.moodle-dind.kind",
  version: "org.moodle-dind.version",
  /** Which data dir (MDIND_HOME) owns a resource: two homes may share one engine (tests, dev). */
  home: "org.moodle-dind.home",
} as const;

let client: Docker | null = null;

/** One dockerode client per process; DOCKER_HOST / socket discovery is dockerode's own. */
export function docker(): Docker {
  if (!client) client = new Docker();
  return client;
}

export async function ping(): Promise<void> {
  try {
    await docker().ping();
  } catch (e) {
    throw new EngineError(
      "The Docker engine does not answer. Run `bash scripts/engine.sh` (installs and starts one when root on Debian/Ubuntu).",
      e,
    );
  }
}

/** Drain a dockerode progress stream (build, pull, import, load) and surface its error lines. */
export function followProgress(
  stream: NodeJS.ReadableStream,
  onEvent?: (ev: { stream?: string; status?: string; progress?: string; error?: string; id?: string; aux?: unknown }) => void,
): Promise<void> {
  return new Promise((resolve, reject) => {
    let failure: string | null = null;
    docker().modem.followProgress(
      stream,
      (err: Error | null) => {
        if (err) reject(new EngineError(err.message, err));
        else if (failure) reject(new EngineError(failure));
        else resolve();
      },
      (ev: { error?: string; errorDetail?: { message?: string } }) => {
        if (ev.error) failure = ev.errorDetail?.message ?? ev.error;
        onEvent?.(ev as never);
      },
    );
  });
}

/** Short stable id of this process's data dir, put on every container and network it makes. */
export function homeId(): string {
  return createHash("sha256").update(settings().home).digest("hex").slice(0, 12);
}
