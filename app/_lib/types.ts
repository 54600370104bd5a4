/** Shapes the UI reads from the API (a structural copy: the browser bundle must not import lib/). */
export interface ServiceStatus {
  service: string;
  container: string;
  state: string;
  health: string | null;
}

export interface InstanceView {
  name: string;
  status: string;
  url: string;
  port: number;
  subnet: string;
  n: number;
  moodle: string;
  release: string;
  php: string;
  db: string;
  web: string;
  profile: string;
  shared: boolean;
  createdAt: string;
  services: ServiceStatus[];
  operation: { id: string; op: string } | null;
  cron?: unknown;
}

export interface InstanceStats {
  instance: string;
  cpuPercent: number;
  memBytes: number;
  services: Record<string, { cpuPercent: number; memBytes: number }>;
}
