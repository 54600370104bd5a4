import os from "node:os";
import fs from "node:fs/promises";
import path from "node:path";
import type Docker from "dockerode";
import { docker, LABEL } from "../docker";
import { AppError, EngineError, engineError } from "../errors";
import { execIn } from "../exec";
import { HOST_IMAGE } from "./image";

/**
 * The DinD host container: create/start it (privileged where the engine allows, else explicit
 * capabilities), wait for its health check, read the first admin password, stop it. Named volumes
 * hold the inner engine's /var/lib/docker and every instance's files (MDIND_HOME), so removing or
 * recreating the container loses nothing.
 */
export interface HostOptions {
  name: string;
  image: string;
  dockerVolume: string;
  dataVolume: string;
  /** Host directory of *.tar files, mounted read-only at /shared-images. */
  sharedDir: string;
  /**
   * Moodle code the user has on this machine, mounted read-only so the host's library of builds
   * sees it: the moodle-sources/ folder (every tree or archive in it) and MOODLE_SOURCE, if set.
   */
  moodleSourcesDir: string;
  moodleSource: string | null;
  /** Outer address ports are published on. */
  bindAddress: string;
  dashboardPort: number;
  /** Instance port range inside the host (the inner allocator's MDIND_PORT_RANGE). */
  portMin: number;
  portMax: number;
  /** Outer port for portMin (the rest follow); defaults to portMin, i.e. the same numbers outside. */
  outerPortBase: number;
  mtu: number | null;
  /** Extra environment for the host (MDIND_ADMIN_PASSWORD, MDIND_DOCKER_TLS …). */
  env: Record<string, string>;
  /** The host container's hostname: the machine's own, so a cluster's nodes are named after their machines. */
  hostname?: string;
}

const HOSTNAME_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** MDIND_HOST_HOSTNAME, else this machine's short hostname when it is a valid one (else the engine's default). */
function hostHostname(): string | undefined {
  if (process.env.MDIND_HOST_HOSTNAME !== undefined) return process.env.MDIND_HOST_HOSTNAME;
  const h = os.hostname().split(".")[0].toLowerCase();
  return HOSTNAME_RE.test(h) ? h : undefined;
}

export type Mode = "privileged" | "capabilities";

function intEnv(name: string, def: number): number {
  const n = Number.parseInt(process.env[name] ?? "", 10);
  return Number.isFinite(n) ? n : def;
}

/** MTU of the interface holding the default route: the host container cannot see it from inside. */
export async function outerMtu(): Promise<number | null> {
  try {
    const routes = (await fs.readFile("/proc/net/route", "utf8")).split("\n").slice(1);
    const def = routes.map((l) => l.trim().split(/\s+/)).find((f) => f[1] === "00000000" && f[7] === "00000000");
    if (!def || !/^[\w.@-]{1,15}$/.test(def[0])) return null;
    const mtu = Number.parseInt(await fs.readFile(`/sys/class/net/${def[0]}/mtu`, "utf8"), 10);
    return mtu >= 576 && mtu <= 9000 ? mtu : null;
  } catch {
    return null;
  }
}

export function defaultHostOptions(root: string, allInterfaces = false): HostOptions {
  const [pmin, pmax] = (process.env.MDIND_PORT_RANGE ?? "8000-8099").split("-").map((s) => Number.parseInt(s, 10));
  const portMin = Number.isFinite(pmin) ? pmin : 8000;
  const portMax = Number.isFinite(pmax) ? pmax : 8099;
  const env: Record<string, string> = {};
  // Passed through only when the user set them: the admin password they chose, the TLS opt-in.
  for (const k of ["MDIND_ADMIN_PASSWORD", "MDIND_DOCKER_TLS", "MDIND_CLUSTER_NODE", "MDIND_IPTABLES", "MDIND_DEBIAN_MIRROR", "MDIND_SESSION_TTL_HOURS"]) {
    const v = process.env[k];
    if (v) env[k] = v;
  }
  return {
    name: process.env.MDIND_HOST_NAME ?? "moodle-dind-host",
    image: HOST_IMAGE,
    dockerVolume: "moodle-dind-docker",
    dataVolume: "moodle-dind-data",
    sharedDir: path.resolve(root, process.env.MDIND_SHARED_IMAGES_DIR ?? "shared-images"),
    moodleSourcesDir: path.resolve(root, process.env.MDIND_MOODLE_SOURCES ?? "moodle-sources"),
    moodleSource: process.env.MOODLE_SOURCE ? path.resolve(process.env.MOODLE_SOURCE) : null,
    bindAddress: allInterfaces ? "0.0.0.0" : "127.0.0.1",
    dashboardPort: intEnv("MDIND_DASHBOARD_PORT", 7800),
    portMin,
    portMax,
    outerPortBase: portMin,
    mtu: Number.isFinite(Number.parseInt(process.env.MDIND_MTU ?? "", 10)) ? Number.parseInt(process.env.MDIND_MTU!, 10) : null,
    env,
    hostname: hostHostname(),
  };
}

export function validateHostOptions(o: HostOptions): void {
  if (o.hostname !== undefined && !HOSTNAME_RE.test(o.hostname)) throw new AppError("validation", "MDIND_HOST_HOSTNAME: 1–63 of a-z, 0-9 and '-'");
  const port = (p: number) => Number.isInteger(p) && p > 0 && p < 65536;
  if (!/^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,62}$/.test(o.name)) throw new AppError("validation", `bad container name '${o.name}'`);
  if (!port(o.dashboardPort) || !port(o.portMin) || !port(o.portMax) || o.portMax < o.portMin || o.portMax - o.portMin > 999) {
    throw new AppError("validation", "ports: dashboard port and MDIND_PORT_RANGE (at most 1000 ports) must be valid TCP ports");
  }
  if (!port(o.outerPortBase) || !port(o.outerPortBase + (o.portMax - o.portMin))) throw new AppError("validation", "outer port range out of bounds");
  if (o.bindAddress !== "127.0.0.1" && o.bindAddress !== "0.0.0.0") throw new AppError("validation", "bind address must be 127.0.0.1 or 0.0.0.0");
}

/** The create options for one mode. Exported for the unit of "what would we run". */
export function containerSpec(o: HostOptions, mode: Mode): Docker.ContainerCreateOptions {
  const exposed: Record<string, object> = { "7800/tcp": {} };
  const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {
    "7800/tcp": [{ HostIp: o.bindAddress, HostPort: String(o.dashboardPort) }],
  };
  for (let p = o.portMin; p <= o.portMax; p++) {
    exposed[`${p}/tcp`] = {};
    bindings[`${p}/tcp`] = [{ HostIp: o.bindAddress, HostPort: String(o.outerPortBase + (p - o.portMin)) }];
  }
  const env: Record<string, string> = {
    ...o.env,
    MDIND_PORT_RANGE: `${o.portMin}-${o.portMax}`,
    ...(o.mtu ? { MDIND_MTU: String(o.mtu) } : {}),
  };
  if (env.MDIND_DOCKER_TLS === "1") {
    // Opt-in only, and only with mutual TLS (dind/host/bin/mdind-dockerd refuses without certs).
    exposed["2376/tcp"] = {};
    bindings["2376/tcp"] = [{ HostIp: o.bindAddress, HostPort: process.env.MDIND_DOCKER_TLS_PORT ?? "2376" }];
  }
  if (env.MDIND_CLUSTER_NODE === "1") {
    // A machine of a cluster (docs/cluster.md): the swarm's own ports, one to one, so the address
    // the engine advertises is the machine's; and the mail catcher, where instances on the other
    // machines send (logged in as themselves: lib/mail/auth.ts).
    for (const p of ["2377/tcp", "7946/tcp", "7946/udp", "4789/udp", "1025/tcp"]) {
      exposed[p] = {};
      bindings[p] = [{ HostIp: o.bindAddress, HostPort: p.split("/")[0] }];
    }
  }
  const binds = hostBinds(o);
  if (o.moodleSource) env.MOODLE_SOURCE = `${INNER_SOURCE_DIR}/${path.basename(o.moodleSource)}`;
  const hostConfig: Docker.HostConfig =
    mode === "privileged"
      ? { Privileged: true, Binds: binds }
      : {
          // Everything --privileged gives that nested dockerd needs, minus what this engine may refuse.
          CapAdd: ["ALL"],
          CapDrop: ["SYS_RESOURCE"],
          SecurityOpt: ["seccomp=unconfined", "apparmor=unconfined"],
          // The API form of the CLI's `--security-opt systempaths=unconfined`: no masked or
          // read-only /proc and /sys paths, which nested runc needs to set up its containers.
          MaskedPaths: [],
          ReadonlyPaths: [],
          Binds: [...binds, "/sys/fs/cgroup:/sys/fs/cgroup:rw"],
        };
  return {
    name: o.name,
    ...(o.hostname ? { Hostname: o.hostname } : {}),
    Image: o.image,
    Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
    ExposedPorts: exposed,
    Labels: { [LABEL.managed]: "true", [LABEL.kind]: "host", "org.moodle-dind.host-mode": mode },
    // Inner Postgres/MariaDB need time to shut down cleanly through dockerd.
    StopTimeout: 90,
    HostConfig: {
      ...hostConfig,
      PortBindings: bindings,
      RestartPolicy: { Name: "unless-stopped" },
      // Instances' DBs and PHP run in here: no artificial pids/ulimit ceilings beyond the engine's.
      Init: false,
    },
  };
}

/** Where the host sees the user's Moodle code (read-only); MDIND_MOODLE_SOURCES in the image points here. */
const INNER_SOURCES = "/moodle-sources";
const INNER_SOURCE_DIR = "/moodle-source";

export function hostBinds(o: HostOptions): string[] {
  const binds = [
    `${o.dockerVolume}:/var/lib/docker`,
    `${o.dataVolume}:/var/lib/moodle-dind`,
    `${o.sharedDir}:/shared-images:ro`,
    `${o.moodleSourcesDir}:${INNER_SOURCES}:ro`,
  ];
  if (o.moodleSource) binds.push(`${o.moodleSource}:${INNER_SOURCE_DIR}/${path.basename(o.moodleSource)}:ro`);
  return binds;
}

/** An existing container is reused only when it mounts exactly what these options mount. */
function sameMounts(existing: Docker.ContainerInspectInfo, o: HostOptions): boolean {
  const have = new Set((existing.HostConfig.Binds ?? []).filter((b) => !b.startsWith("/sys/fs/cgroup:")));
  const want = hostBinds(o);
  return want.length === have.size && want.every((b) => have.has(b));
}

async function inspectOrNull(name: string): Promise<Docker.ContainerInspectInfo | null> {
  try {
    return await docker().getContainer(name).inspect();
  } catch (e) {
    if ((e as { statusCode?: number }).statusCode === 404) return null;
    throw engineError(`inspect ${name}`, e);
  }
}

const msgOf = (e: unknown) => ((e as { json?: { message?: string } }).json?.message ?? (e as Error).message ?? String(e)).trim();

async function createAndStart(o: HostOptions, mode: Mode): Promise<void> {
  const c = await docker().createContainer(containerSpec(o, mode));
  try {
    await c.start();
  } catch (e) {
    await c.remove({ force: true }).catch(() => undefined);
    throw e;
  }
}

/**
 * Start the host: reuse a container made from the same image, else (re)create it. Tries
 * --privileged first; when the engine refuses (here: "unable to apply caps", a bounding set
 * without CAP_SYS_RESOURCE), logs why and falls back to explicit capabilities.
 */
export async function startHost(o: HostOptions, log: (l: string) => void): Promise<{ mode: Mode; created: boolean }> {
  validateHostOptions(o);
  await fs.mkdir(o.sharedDir, { recursive: true });
  await fs.mkdir(o.moodleSourcesDir, { recursive: true });
  if (o.moodleSource && !(await fs.stat(o.moodleSource).catch(() => null))) {
    throw new AppError("validation", `MOODLE_SOURCE ${o.moodleSource} does not exist`);
  }
  const image = await docker().getImage(o.image).inspect().catch((e: unknown) => {
    throw engineError(`inspect ${o.image}`, e);
  });
  const existing = await inspectOrNull(o.name);
  if (existing && existing.Image === image.Id && sameMounts(existing, o)) {
    const mode = (existing.Config.Labels?.["org.moodle-dind.host-mode"] as Mode) ?? "privileged";
    if (!existing.State.Running) {
      log(`starting the existing ${o.name} (${mode})`);
      await docker().getContainer(o.name).start().catch((e: unknown) => {
        throw engineError(`start ${o.name}`, e);
      });
    } else {
      log(`${o.name} is already running`);
    }
    return { mode, created: false };
  }
  if (existing) {
    const why = existing.Image === image.Id ? "mounts other Moodle sources" : "runs an older image";
    log(`${o.name} ${why}; replacing the container (volumes ${o.dockerVolume}, ${o.dataVolume} are kept)`);
    const c = docker().getContainer(o.name);
    if (existing.State.Running) await c.stop({ t: 90 }).catch(() => undefined);
    await c.remove({ force: true }).catch((e: unknown) => {
      throw engineError(`remove ${o.name}`, e);
    });
  }
  try {
    await createAndStart(o, "privileged");
    log("host started with --privileged");
    return { mode: "privileged", created: true };
  } catch (e) {
    log(`the engine refused --privileged (${msgOf(e).split("\n")[0]}); falling back to explicit capabilities (ALL minus SYS_RESOURCE), unconfined seccomp/apparmor, rw cgroup mount`);
    try {
      await createAndStart(o, "capabilities");
    } catch (e2) {
      throw new EngineError(`starting ${o.name} failed both privileged (${msgOf(e)}) and with explicit capabilities (${msgOf(e2)})`, e2);
    }
    log("host started with explicit capabilities");
    return { mode: "capabilities", created: true };
  }
}

/** Wait for the container's health check (dockerd answers and the dashboard's /api/v1/health). */
export async function waitHealthy(name: string, timeoutMs: number, log: (l: string) => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    const info = await inspectOrNull(name);
    if (!info) throw new EngineError(`${name} disappeared`);
    const status = info.State.Health?.Status ?? (info.State.Running ? "running" : info.State.Status);
    if (status !== last) {
      log(`host: ${status}`);
      last = status;
    }
    if (status === "healthy") return;
    if (!info.State.Running && !info.State.Restarting) {
      throw new EngineError(`${name} exited (code ${info.State.ExitCode}); see \`docker logs ${name}\``);
    }
    if (Date.now() > deadline) {
      const probe = info.State.Health?.Log?.slice(-1)[0]?.Output?.trim();
      throw new EngineError(`${name} not healthy after ${Math.round(timeoutMs / 1000)}s${probe ? `: ${probe}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const INITIAL_PASSWORD_FILE = "/var/lib/moodle-dind/state/initial-admin-password";

/**
 * The admin password the dashboard generated at its first start (it logs it once). Kept in the data
 * volume (0600) so a later `up` — even after the container was recreated — can still print it.
 * Null when the user chose one (MDIND_ADMIN_PASSWORD) or it cannot be found.
 */
export async function initialAdminPassword(name: string): Promise<string | null> {
  const saved = await execIn(name, ["cat", INITIAL_PASSWORD_FILE], { check: false, timeoutMs: 10_000 }).catch(() => null);
  if (saved && saved.exitCode === 0 && saved.stdout.trim()) return saved.stdout.trim();
  const logs = await execIn(name, ["sh", "-c", "cat /var/log/supervisor/dashboard.log.* /var/log/supervisor/dashboard.log 2>/dev/null"], {
    check: false,
    timeoutMs: 10_000,
  }).catch(() => null);
  let pw: string | null = null;
  for (const line of (logs?.stdout ?? "").split("\n")) {
    if (!line.includes("admin_password_generated")) continue;
    try {
      const ev = JSON.parse(line) as { password?: string };
      if (typeof ev.password === "string" && ev.password) pw = ev.password;
    } catch {
      // Not one of the dashboard's JSON lines.
    }
  }
  if (pw) {
    await execIn(name, ["sh", "-c", `umask 077; cat > ${INITIAL_PASSWORD_FILE}`], { stdin: pw, check: false, timeoutMs: 10_000 }).catch(() => null);
  }
  return pw;
}

/**
 * Stop the host and remove its container. Its named volumes keep the inner engine and every
 * instance, and `up` recreates the container from the same options, so nothing is lost; a stopped
 * container would keep reserving its published ports (8000–8099), which then blocks anything else
 * on this machine, the test suites included, from using them. Returns false when it was not running.
 */
export async function stopHost(name: string, log: (l: string) => void): Promise<boolean> {
  const info = await inspectOrNull(name);
  if (!info) {
    log(`there is no ${name} container`);
    return false;
  }
  const c = docker().getContainer(name);
  if (info.State.Running) {
    log(`stopping ${name} (instances shut down cleanly inside; up to 90 s)`);
    try {
      await c.stop({ t: 90 });
    } catch (e) {
      if ((e as { statusCode?: number }).statusCode !== 304) throw engineError(`stop ${name}`, e);
    }
  } else {
    log(`${name} is not running`);
  }
  // v: false — the named volumes stay (they hold everything); only the container goes.
  await c.remove({ force: true, v: false }).catch((e: unknown) => {
    if ((e as { statusCode?: number }).statusCode !== 404) throw engineError(`remove ${name}`, e);
  });
  log(`removed the ${name} container; its ports are free`);
  return info.State.Running;
}
