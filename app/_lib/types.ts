/**
 * Shapes the UI reads from the API. Type-only re-exports: erased at build time, so the browser
 * bundle never imports lib/ or instances/ code, yet the UI and the API cannot drift apart.
 */
import type { InstanceView as ApiInstanceView } from "../../instances/query";
import type { CronState } from "../../instances/cron";
export type { ClusterOverview, NodeOverview } from "../../services/cluster/overview";
export type { JoinInstructions } from "../../services/cluster/join";
export type { ClusterSiteRow } from "../../services/cluster/info";
export type { ClusterLogFile } from "../../services/cluster/logs";

export type { ServiceStatus } from "../../instances/query";
/** The list returns the view; the detail endpoint adds the cron heartbeat and cadence. */
export type InstanceView = ApiInstanceView & { cron?: CronState["last"]; cronCadence?: CronState["cadence"] };

export interface InstanceStats {
  instance: string;
  cpuPercent: number;
  memBytes: number;
  services: Record<string, { cpuPercent: number; memBytes: number }>;
}
