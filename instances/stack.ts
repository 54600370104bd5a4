import type Docker from "dockerode";
import { LABEL, managedLabels } from "../lib/docker";
import { settings } from "../lib/config";
import { imageRef } from "../lib/images/catalog";
import { networkName, serviceIp } from "../networks/subnets";
import type { InstanceSpec } from "./spec";
import { configDir, dataDir, dbPasswordFile, logsDir } from "./store";
import { LOGIN_ENTRY_BIND } from "./login-entry";

/**
 * The four containers of an instance, as engine create options. Names are deterministic
 * (mdind-<name>-<service>) and every container is labelled, so reconcile can always find them.
 */
export const SERVICES = ["db", "app", "web", "cron"] as const;
export type Service = (typeof SERVICES)[number];

export const containerName = (name: string, service: Service | string) => `mdind-${name}-${service}`;

export interface StackContext {
  spec: InstanceSpec;
  n: number;
  port: number;
}

/** Images a spec needs, as (kind, version) pairs for the image catalog. */
export function stackImages(spec: InstanceSpec): { kind: string; version: string }[] {
  return [
    { kind: "php", version: spec.php },
    { kind: spec.db.engine, version: spec.db.version },
    { kind: spec.web.server, version: spec.web.version },
  ];
}

/** Version-named folders: config/php-8.2, logs/nginx-1.22, logs/cron-8.2 … */
export function folderNames(spec: InstanceSpec) {
  const db = `${spec.db.engine}-${spec.db.version}`;
  const web = `${spec.web.server}-${spec.web.version}`;
  const php = `php-${spec.php}`;
  return { config: [php, db, web], logs: [php, db, web, `cron-${spec.php}`] };
}

function labels(name: string, service: string, n: number): Record<string, string> {
  return managedLabels({ [LABEL.instance]: name, [LABEL.service]: service, [LABEL.n]: String(n) });
}

/**
 * No engine health checks, not even the images' own: each check is a `docker exec` for the life of
 * the container, which cost 1.2 % of a core per idle instance. Health is probed from the dashboard
 * over sockets, only when asked (instances/health.ts); operations wait with ready.ts.
 */
export const NO_HEALTHCHECK = { Test: ["NONE"] };

/** Cron's PHP loads Moodle compiled from a file cache in its own /tmp (see phpIni). */
export const CRON_OPCACHE_ENV = ["MDIND_CLI_OPCACHE=1", "MDIND_CLI_OPCACHE_DIR=/tmp"];

export function containerSpecs(ctx: StackContext): Record<Service, Docker.ContainerCreateOptions> {
  const { spec, n, port } = ctx;
  const name = spec.name;
  const net = networkName(n);
  const phpImage = imageRef("php", spec.php);
  const code = dataDir(name, "code");
  const moodledata = dataDir(name, "moodledata");
  const phpConf = configDir(name, "php", spec.php);
  const dbKey = spec.db.engine;
  const dbVer = spec.db.version;
  const webKey = spec.web.server;
  const webVer = spec.web.version;
  const limits = spec.limits;

  const endpoint = (service: Service) => ({
    EndpointsConfig: { [net]: { Aliases: [service], IPAMConfig: { IPv4Address: serviceIp(n, service) } } },
  });
  const base = (service: Service) => ({
    name: containerName(name, service),
    Hostname: `${name}-${service}`,
    Labels: labels(name, service, n),
    NetworkingConfig: endpoint(service),
  });
  // The images run tini as PID 1 themselves, so no engine-side init.
  const restart = { RestartPolicy: { Name: "unless-stopped" as const }, NetworkMode: net };

  const db: Docker.ContainerCreateOptions =
    dbKey === "postgres"
      ? {
          ...base("db"),
          Image: imageRef("postgres", dbVer),
          Env: ["DB_USER=moodle", "DB_NAME=moodle", "DB_PASSWORD_FILE=/run/secrets/db_password"],
          Healthcheck: NO_HEALTHCHECK,
          StopTimeout: 20,
          HostConfig: {
            ...restart,
            Binds: [
              `${dataDir(name, "db")}:/var/lib/postgresql/data`,
              `${configDir(name, "postgres", dbVer)}:/etc/moodle-dind/postgres:ro`,
              `${logsDir(name, "postgres", dbVer)}:/var/log/postgresql`,
              `${dbPasswordFile(name)}:/run/secrets/db_password:ro`,
            ],
            ShmSize: 64 * 1024 * 1024,
          },
        }
      : {
          ...base("db"),
          Image: imageRef("mariadb", dbVer),
          Env: ["DB_USER=moodle", "DB_NAME=moodle", "DB_PASSWORD_FILE=/run/secrets/db_password"],
          Healthcheck: NO_HEALTHCHECK,
          StopTimeout: 20,
          HostConfig: {
            ...restart,
            Binds: [
              `${dataDir(name, "db")}:/var/lib/mysql`,
              `${configDir(name, "mariadb", dbVer)}:/etc/moodle-dind/mariadb:ro`,
              `${logsDir(name, "mariadb", dbVer)}:/var/log/mysql`,
              `${dbPasswordFile(name)}:/run/secrets/db_password:ro`,
            ],
          },
        };

  const phpBinds = [
    `${code}:/var/www/moodle`,
    `${moodledata}:/var/www/moodledata`,
    `${phpConf}:/etc/moodle-dind/php:ro`,
  ];

  const app: Docker.ContainerCreateOptions = {
    ...base("app"),
    Image: phpImage,
    Cmd: ["fpm"],
    WorkingDir: "/var/www/moodle",
    Healthcheck: NO_HEALTHCHECK,
    HostConfig: {
      ...restart,
      Binds: [...phpBinds, `${logsDir(name, "php", spec.php)}:/var/log/php`, LOGIN_ENTRY_BIND()],
      Memory: limits.memoryMb ? limits.memoryMb * 1024 * 1024 : undefined,
      NanoCpus: limits.cpus ? Math.round(limits.cpus * 1e9) : undefined,
    },
  };

  // Crons of many instances must not fire in the same second: spread them by N.
  const cronOffset = (n * 13) % 60;
  const cron: Docker.ContainerCreateOptions = {
    ...base("cron"),
    Image: phpImage,
    Cmd: ["cron"],
    // php.ini turns OPcache's file cache on for cron.php only when these are set (render.ts phpIni).
    Env: [`CRON_OFFSET=${cronOffset}`, "CRON_SCRIPT=/var/www/moodle/admin/cli/cron.php", ...CRON_OPCACHE_ENV],
    WorkingDir: "/var/www/moodle",
    Healthcheck: NO_HEALTHCHECK,
    HostConfig: {
      ...restart,
      Binds: [...phpBinds, `${logsDir(name, "cron", spec.php)}:/var/log/moodle-dind-cron`, `${logsDir(name, "php", spec.php)}:/var/log/php`],
      Memory: limits.memoryMb ? limits.memoryMb * 1024 * 1024 : undefined,
    },
  };

  const web: Docker.ContainerCreateOptions = {
    ...base("web"),
    Image: imageRef(webKey, webVer),
    Env: [`WEB_LISTEN_PORT=${port}`],
    ExposedPorts: { [`${port}/tcp`]: {} },
    Healthcheck: NO_HEALTHCHECK,
    HostConfig: {
      ...restart,
      Binds: [
        `${code}:/var/www/moodle:ro`,
        `${moodledata}:/var/www/moodledata:ro`,
        `${configDir(name, webKey, webVer)}:/etc/moodle-dind/${webKey}:ro`,
        `${logsDir(name, webKey, webVer)}:/var/log/${webKey === "nginx" ? "nginx" : "apache2"}`,
        LOGIN_ENTRY_BIND(),
      ],
      PortBindings: { [`${port}/tcp`]: [{ HostIp: settings().bindAddress, HostPort: String(port) }] },
    },
  };

  return { db, app, web, cron };
}
