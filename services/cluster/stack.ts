import path from "node:path";
import type Docker from "dockerode";
import { settings } from "../../lib/config";
import { LABEL, managedLabels } from "../../lib/docker";
import { imageRef } from "../../lib/images/catalog";
import { containerSpecs, SERVICES, type Service } from "../../instances/stack";
import type { InstanceSpec } from "../../instances/spec";

/**
 * An instance as a swarm stack: the same four services (db, app, web, cron) with the same images,
 * mounts, environment, health checks and labels as today's containers (instances/stack.ts is the one
 * source), each replicas 1, on the instance's own attachable overlay 172.20.N.0/24 with its service
 * name as alias (config.php says 'db', nginx says 'app:9000'), endpoint mode dnsrr (VIPs need
 * IPVS), and pinned to the node whose volumes hold the data. Plus `proxy` on the manager when the
 * kernel has no IPVS (see docs/cluster.md).
 */
/**
 * Where cluster instances live on every node: a data dir of their own inside the host's volume,
 * apart from the host's own single-host instances (its registry, locks and reconciler never see
 * them, and the host that runs the control plane can take cluster instances too).
 */
export const NODE_HOME = "/var/lib/moodle-dind/cluster-node";
/** The host image's copy of this repository (files mounted from it, e.g. instances/php/). */
export const NODE_APP = "/opt/moodle-dind";
/** Where the node CLI keeps cluster instances' folders (its MDIND_HOME's instances/). */
export const NODE_INSTANCES = `${NODE_HOME}/instances`;
/** The image helper containers on a node run (every node has it: instances use it). */
export const HELPER_IMAGE = imageRef("nginx", "1.22");
export const stackName = (name: string) => `mdind-${name}`;
export const serviceName = (name: string, service: string) => `${stackName(name)}_${service}`;
/** The inverse of serviceName for an instance's own four services: the instance a task belongs to. */
export function instanceOfTask(service: string | undefined): string | null {
  const m = /^mdind-([a-z0-9][a-z0-9-]*)_([a-z]+)$/.exec(service ?? "");
  return m && (SERVICES as readonly string[]).includes(m[2]) ? m[1] : null;
}
export const overlayName = (n: number) => `mdind-ov${n}`;
export const STACK_SERVICES = [...SERVICES, "proxy"] as const;

export interface ClusterStackContext {
  name: string;
  spec: InstanceSpec;
  n: number;
  port: number;
  node: string;
  /** Reservation per instance (swarm places only where this fits). */
  reserveMemoryMb: number;
}

/** A bind's host path on the node: the control plane's MDIND_HOME → the node's data dir. */
function onNode(src: string): string {
  const home = settings().home;
  if (src === home || src.startsWith(`${home}/`)) return NODE_HOME + src.slice(home.length);
  const app = path.resolve(process.env.MDIND_APP_ROOT ?? process.cwd());
  return src.startsWith(`${app}/`) ? NODE_APP + src.slice(app.length) : src;
}

function mounts(binds: string[]): Docker.MountSettings[] {
  return binds.map((b) => {
    const [source, target, mode] = b.split(":");
    return { Type: "bind", Source: onNode(source), Target: target, ReadOnly: mode === "ro" } as Docker.MountSettings;
  });
}

export function serviceSpecs(ctx: ClusterStackContext): Record<Service, Docker.CreateServiceOptions> {
  const specs = containerSpecs({ spec: ctx.spec, n: ctx.n, port: ctx.port });
  const out = {} as Record<Service, Docker.CreateServiceOptions>;
  for (const s of SERVICES) {
    const c = specs[s];
    const hc = c.HostConfig ?? {};
    const limits = { MemoryBytes: hc.Memory, NanoCPUs: hc.NanoCpus };
    // The app carries the instance's reservation: the scheduler placed the instance with it.
    const reservations = s === "app" ? { MemoryBytes: (limits.MemoryBytes ? Math.min(limits.MemoryBytes, ctx.reserveMemoryMb * 2 ** 20) : ctx.reserveMemoryMb * 2 ** 20) } : {};
    const shm = hc.ShmSize ? [{ Type: "tmpfs", Target: "/dev/shm", TmpfsOptions: { SizeBytes: hc.ShmSize } } as Docker.MountSettings] : [];
    out[s] = {
      Name: serviceName(ctx.name, s),
      Labels: managedLabels({ [LABEL.instance]: ctx.name, [LABEL.service]: s, [LABEL.n]: String(ctx.n), "com.docker.stack.namespace": stackName(ctx.name) }),
      TaskTemplate: {
        ContainerSpec: {
          Image: c.Image!,
          Args: c.Cmd as string[] | undefined,
          Env: c.Env,
          Dir: c.WorkingDir,
          Hostname: c.Hostname,
          Labels: c.Labels,
          Mounts: [...mounts(hc.Binds ?? []), ...shm],
          StopGracePeriod: (c.StopTimeout ?? 10) * 1e9,
          HealthCheck: c.Healthcheck,
        },
        Resources: { Limits: limits, Reservations: reservations },
        RestartPolicy: { Condition: "any", Delay: 2e9 },
        Placement: { Constraints: [`node.hostname==${ctx.node}`] },
        Networks: [{ Target: overlayName(ctx.n), Aliases: [s] }],
      },
      Mode: { Replicated: { Replicas: 1 } },
      EndpointSpec: { Mode: "dnsrr" },
    } as Docker.CreateServiceOptions;
  }
  return out;
}

/**
 * nginx on the manager, published mode=host on the instance's port, forwarding to `web` over the
 * overlay. The resolver is Docker's embedded DNS, asked again every 5 s, so a moved web task is
 * found without touching the proxy. Host and port pass through unchanged: wwwroot stays valid.
 */
export function proxyConfig(port: number): string {
  return `worker_processes 1;
pid /tmp/mdind-proxy.pid;
error_log stderr warn;
events { worker_connections 512; }
http {
  access_log off;
  resolver 127.0.0.11 valid=5s ipv6=off;
  client_max_body_size 0;
  server {
    listen ${port};
    location / {
      set $upstream http://web:${port};
      proxy_pass $upstream;
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_buffering off;
      proxy_read_timeout 600s;
      proxy_connect_timeout 5s;
    }
  }
}
`;
}

export function proxySpec(name: string, n: number, port: number, configId: string, configName: string): Docker.CreateServiceOptions {
  return {
    Name: serviceName(name, "proxy"),
    Labels: managedLabels({ [LABEL.instance]: name, [LABEL.service]: "proxy", [LABEL.n]: String(n), "com.docker.stack.namespace": stackName(name) }),
    TaskTemplate: {
      ContainerSpec: {
        Image: imageRef("nginx", "1.22"),
        Command: ["nginx", "-c", "/etc/mdind-proxy.conf", "-g", "daemon off;"],
        Labels: managedLabels({ [LABEL.instance]: name, [LABEL.service]: "proxy", [LABEL.n]: String(n) }),
        Configs: [{ File: { Name: "/etc/mdind-proxy.conf", UID: "0", GID: "0", Mode: 0o444 }, ConfigID: configId, ConfigName: configName }],
        // The nginx image's own health check probes an instance site this proxy does not serve.
        HealthCheck: { Test: ["NONE"] },
      },
      RestartPolicy: { Condition: "any", Delay: 1e9 },
      Placement: { Constraints: ["node.role==manager"] },
      Networks: [{ Target: overlayName(n), Aliases: ["proxy"] }],
    },
    Mode: { Replicated: { Replicas: 1 } },
    EndpointSpec: { Mode: "dnsrr", Ports: [{ Protocol: "tcp", TargetPort: port, PublishedPort: port, PublishMode: "host" }] },
  } as Docker.CreateServiceOptions;
}
