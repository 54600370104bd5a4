import fs from "node:fs/promises";
import { docker, LABEL } from "../lib/docker";
import { settings } from "../lib/config";
import { run } from "../lib/proc";
import { engineError, CommandError } from "../lib/errors";
import { nFromSubnet } from "../networks/subnets";
import { cachedRecords } from "./events";

/**
 * What the Host page and the health probe show: the engine, disk space, which 172.20.N networks
 * and host ports are in use (and by whom), and supervisor's programs when it runs us.
 */
export interface DiskInfo {
  path: string;
  totalBytes: number;
  freeBytes: number;
  usedPercent: number;
}

async function disk(path: string): Promise<DiskInfo | null> {
  try {
    const s = await fs.statfs(path);
    const total = s.blocks * s.bsize;
    const free = s.bavail * s.bsize;
    return { path, totalBytes: total, freeBytes: free, usedPercent: total ? Math.round(((total - free) / total) * 1000) / 10 : 0 };
  } catch {
    return null;
  }
}

export interface SupervisorProgram {
  name: string;
  state: string;
  description: string;
}

/** `supervisorctl status`, when supervisor runs this host; null when it does not exist. */
export async function supervisorStatus(): Promise<SupervisorProgram[] | null> {
  let out: string;
  try {
    out = (await run("supervisorctl", ["status"])).stdout;
  } catch (e) {
    // Exit 3 means "some program is not RUNNING" and still prints the table.
    if (e instanceof CommandError && e.exitCode !== null && e.stdout.trim()) out = e.stdout;
    else return null;
  }
  return out
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => {
      const [name, state, ...rest] = l.split(/\s+/);
      return { name, state, description: rest.join(" ") };
    });
}

export async function engineSummary() {
  try {
    const [v, info] = await Promise.all([docker().version(), docker().info() as Promise<Record<string, unknown>>]);
    return {
      ok: true as const,
      version: v.Version,
      apiVersion: v.ApiVersion,
      os: String(info.OperatingSystem ?? ""),
      kernel: String(info.KernelVersion ?? ""),
      storageDriver: String(info.Driver ?? ""),
      rootDir: String(info.DockerRootDir ?? ""),
      cpus: Number(info.NCPU ?? 0),
      memTotalBytes: Number(info.MemTotal ?? 0),
      containers: Number(info.Containers ?? 0),
      containersRunning: Number(info.ContainersRunning ?? 0),
      images: Number(info.Images ?? 0),
    };
  } catch (e) {
    return { ok: false as const, error: engineError("engine", e).message };
  }
}

export async function healthDetails() {
  const [engine, home, supervisor] = await Promise.all([engineSummary(), disk(settings().home), supervisorStatus()]);
  const diskOk = !home || home.freeBytes > 1024 ** 3;
  const supervisorOk = !supervisor || supervisor.every((p) => p.state === "RUNNING" || p.state === "EXITED");
  return {
    ok: engine.ok && diskOk && supervisorOk,
    engine: engine.ok ? { ok: true, version: engine.version } : engine,
    disk: home ? { ...home, ok: diskOk } : null,
    supervisor,
  };
}

export async function hostInfo() {
  const engine = await engineSummary();
  const records = await cachedRecords();
  const byN = new Map(records.map((r) => [r.n, r.name]));
  const byPort = new Map(records.map((r) => [r.port, r.name]));
  let networks: { name: string; subnet: string; n: number | null; instance: string | null; managed: boolean }[] = [];
  const ports: { port: number; instance: string | null; container: string; state: string }[] = [];
  let error: string | null = null;
  let dockerDisk: { images: number; containers: number; volumes: number; buildCache: number } | null = null;
  if (engine.ok) {
    try {
      const nets = await docker().listNetworks();
      networks = nets
        .map((n) => {
          const subnet = n.IPAM?.Config?.[0]?.Subnet ?? "";
          const nn = nFromSubnet(subnet);
          return { name: n.Name, subnet, n: nn, instance: nn !== null ? byN.get(nn) ?? null : null, managed: n.Labels?.[LABEL.managed] === "true" };
        })
        .sort((a, b) => (a.n ?? 999) - (b.n ?? 999) || a.name.localeCompare(b.name));
      const containers = await docker().listContainers({ all: true });
      for (const c of containers) {
        for (const p of c.Ports ?? []) {
          if (!p.PublicPort || ports.some((x) => x.port === p.PublicPort)) continue;
          ports.push({
            port: p.PublicPort,
            instance: c.Labels?.[LABEL.instance] ?? byPort.get(p.PublicPort) ?? null,
            container: c.Names?.[0]?.replace(/^\//, "") ?? c.Id.slice(0, 12),
            state: c.State,
          });
        }
      }
      // Stopped instances list no published ports but still own theirs.
      for (const r of records) {
        if (!ports.some((x) => x.port === r.port)) ports.push({ port: r.port, instance: r.name, container: `mdind-${r.name}-web`, state: "reserved" });
      }
      ports.sort((a, b) => a.port - b.port);
      const df = (await docker().df()) as {
        LayersSize?: number;
        Containers?: { SizeRw?: number }[];
        Volumes?: { UsageData?: { Size?: number } }[];
        BuildCache?: { Size?: number }[];
      };
      dockerDisk = {
        images: df.LayersSize ?? 0,
        containers: (df.Containers ?? []).reduce((s, c) => s + (c.SizeRw ?? 0), 0),
        volumes: (df.Volumes ?? []).reduce((s, v) => s + Math.max(0, v.UsageData?.Size ?? 0), 0),
        buildCache: (df.BuildCache ?? []).reduce((s, b) => s + (b.Size ?? 0), 0),
      };
    } catch (e) {
      error = engineError("reading host state", e).message;
    }
  }
  const s = settings();
  return {
    engine,
    disk: { home: await disk(s.home), engine: engine.ok && engine.rootDir ? await disk(engine.rootDir) : null, docker: dockerDisk },
    networks,
    ports,
    portRange: { min: s.portMin, max: s.portMax },
    instances: records.length,
    error,
  };
}
