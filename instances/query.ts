import type Docker from "dockerode";
import { LABEL, listManagedContainers } from "../lib/docker";

import { isBusy } from "../lib/operations";
import { libraryBuildsSync, upgradeCandidates } from "../lib/moodle/newer";
import { SERVICES, type Service } from "./stack";
import { withHealth } from "./health";
import { listRecords, readRecord, type InstanceRecord } from "./store";
import { cronState, type CronState } from "./cron";

/**
 * Read side: the record merged with what the engine says right now. One listContainers call
 * serves the whole list, so the list stays cheap at 100 instances.
 */
export interface ServiceStatus {
  service: Service;
  container: string;
  state: string; // running, exited, created, missing …
  /** healthy, unhealthy, starting, or null without a probe (app and cron: their state says it; instances/health.ts). */
  health: string | null;
}

export type InstanceStatus = "running" | "stopped" | "partial" | "creating" | "installing" | "failed" | "removing" | "busy";

export interface InstanceView {
  name: string;
  status: InstanceStatus;
  url: string;
  port: number;
  subnet: string;
  n: number;
  moodle: string;
  release: string;
  /** The library build the code came from, and whether it has Composer's vendor/ (null: unknown, e.g. the fixture). */
  build: string | null;
  vendor: boolean | null;
  php: string;
  db: string;
  web: string;
  profile: string;
  shared: boolean;
  createdAt: string;
  services: ServiceStatus[];
  operation: { id: string; op: string } | null;
  /** A newer library build of this branch or a later one (its id in `to`); Moodle's own rules are checked when upgrading. */
  upgrade: { available: boolean; to: string | null };
}

function parseHealth(status: string): string | null {
  const m = /\((healthy|unhealthy|health: starting)\)/.exec(status);
  if (!m) return null;
  return m[1] === "health: starting" ? "starting" : m[1];
}

export function deriveStatus(rec: InstanceRecord, services: ServiceStatus[]): InstanceStatus {
  if (rec.state === "creating" || rec.state === "installing" || rec.state === "removing" || rec.state === "failed") return rec.state;
  const running = services.filter((s) => s.state === "running").length;
  if (running === services.length) return "running";
  if (running === 0) return "stopped";
  return "partial";
}

export function toView(rec: InstanceRecord, containers: Docker.ContainerInfo[]): InstanceView {
  const services: ServiceStatus[] = SERVICES.map((service) => {
    const c = containers.find((x) => x.Labels?.[LABEL.instance] === rec.name && x.Labels?.[LABEL.service] === service);
    return {
      service,
      container: `mdind-${rec.name}-${service}`,
      state: c?.State ?? "missing",
      health: c ? parseHealth(c.Status ?? "") : null,
    };
  });
  const busy = isBusy(rec.name);
  const newer = upgradeCandidates(libraryBuildsSync(), rec.source)[0];
  return {
    name: rec.name,
    status: busy && rec.state === "ready" ? "busy" : deriveStatus(rec, services),
    url: rec.url,
    port: rec.port,
    subnet: rec.subnet,
    n: rec.n,
    moodle: rec.spec.moodle,
    release: rec.source.release,
    build: rec.source.buildId ?? null,
    vendor: rec.source.vendor ?? null,
    php: rec.spec.php,
    db: `${rec.spec.db.engine}:${rec.spec.db.version}`,
    web: `${rec.spec.web.server}:${rec.spec.web.version}`,
    profile: rec.spec.profile,
    shared: rec.shared,
    createdAt: rec.createdAt,
    services,
    operation: busy,
    upgrade: { available: newer !== undefined, to: newer?.id ?? null },
  };
}

const managedContainers = (instance?: string) => listManagedContainers({ instance });

export async function listInstances(): Promise<InstanceView[]> {
  const [records, containers] = await Promise.all([listRecords(), managedContainers()]);
  return withHealth(records.map((r) => toView(r, containers)), containers);
}

export async function instanceInfo(name: string): Promise<InstanceView & { cron: CronState["last"]; cronCadence: CronState["cadence"] }> {
  const rec = await readRecord(name);
  const containers = await managedContainers(name);
  const [view] = await withHealth([toView(rec, containers)], containers);
  const { last, cadence } = await cronState(name, rec.spec.php);
  return { ...view, cron: last, cronCadence: cadence };
}
