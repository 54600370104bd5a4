import path from "node:path";

/**
 * Process-wide settings, read from the environment once. Everything on disk lives under `home`:
 *   instances/<name>/   one folder per instance (config/, logs/, data/, instance.json, secrets.json)
 *   state/              allocation registry and its lock, auth store
 *   operations/         per-instance operation logs (ndjson)
 *   cache/              Moodle source cache, templates
 *   mail/               caught mail
 */
function intEnv(name: string, def: number): number {
  const v = process.env[name];
  if (v === undefined || v === "") return def;
  const n = Number.parseInt(v, 10);
  return Number.isFinite(n) ? n : def;
}

export interface Settings {
  home: string;
  /** Address instance web ports are published on by the engine we drive. */
  bindAddress: string;
  portMin: number;
  portMax: number;
  imagePrefix: string;
  /** Networks 1..preallocatedNetworks are kept when an instance is removed (the DinD host pre-creates them). */
  preallocatedNetworks: number;
  /** Build missing images during create (off in tests that want a missing image to fail). */
  autoBuildImages: boolean;
  /** How long a service may take to answer its readiness probe (MDIND_READY_TIMEOUT_S, 30–1800 s, default 300): a CPU-starved machine runs initdb for minutes, and a dead container fails at once anyway (ready.ts assertAlive). */
  readyTimeoutMs: number;
}

export function settings(): Settings {
  const [pmin, pmax] = (process.env.MDIND_PORT_RANGE ?? "8000-8099").split("-").map((s) => Number.parseInt(s, 10));
  return {
    home: path.resolve(process.env.MDIND_HOME ?? path.join(process.env.MDIND_APP_ROOT ?? process.cwd(), ".moodle-dind")),
    bindAddress: process.env.MDIND_BIND_ADDRESS ?? "127.0.0.1",
    portMin: Number.isFinite(pmin) ? pmin : 8000,
    portMax: Number.isFinite(pmax) ? pmax : 8099,
    imagePrefix: process.env.MDIND_IMAGE_PREFIX ?? "moodle-dind",
    preallocatedNetworks: intEnv("MDIND_PREALLOCATED_NETWORKS", 0),
    autoBuildImages: process.env.MDIND_AUTO_BUILD !== "0",
    readyTimeoutMs: Math.min(1800, Math.max(30, intEnv("MDIND_READY_TIMEOUT_S", 300))) * 1000,
  };
}

export const paths = {
  instances: () => path.join(settings().home, "instances"),
  instance: (name: string) => path.join(settings().home, "instances", name),
  state: () => path.join(settings().home, "state"),
  operations: () => path.join(settings().home, "operations"),
  cache: () => path.join(settings().home, "cache"),
  mail: () => path.join(settings().home, "mail"),
};
