/**
 * "Stock" for side-by-side runs: Debian's own php-fpm pool and PHP/OPcache defaults, written into
 * an instance's user-editable config folder (and restored after), plus a cron that is a resident
 * PHP loop. This is the hand-made stack of ../shared/docs/moodle-facts.md, on our images.
 */
import fs from "node:fs/promises";
import path from "node:path";
import { configDir, readRecord } from "../../instances/store";

/** Debian's www.conf pool values (pm = dynamic, 5 children), listening on TCP as our web needs. */
export const STOCK_FPM = `; bench: Debian's stock pool (www.conf defaults), TCP listen as in the hand-made stack.
[global]
error_log = /var/log/php/fpm.log
daemonize = no

[www]
user = www-data
group = www-data
listen = 0.0.0.0:9000
pm = dynamic
pm.max_children = 5
pm.start_servers = 2
pm.min_spare_servers = 1
pm.max_spare_servers = 3
clear_env = no
catch_workers_output = yes
`;

/**
 * Debian's php.ini-production and PHP's built-in OPcache/realpath defaults, written out so the
 * report shows what "stock" means; only Moodle's hard requirement (max_input_vars) is added.
 */
export const STOCK_PHP_INI = `; bench: stock PHP settings (Debian php.ini-production + PHP defaults) plus Moodle's required minimum.
max_input_vars = 5000
memory_limit = 128M
display_errors = Off
log_errors = On
error_log = /var/log/php/php-error.log
realpath_cache_size = 4096K
realpath_cache_ttl = 120
opcache.enable = 1
opcache.memory_consumption = 128
opcache.interned_strings_buffer = 8
opcache.max_accelerated_files = 10000
opcache.validate_timestamps = 1
opcache.revalidate_freq = 2
`;

/** PostgreSQL's defaults for what our conf shrinks. */
export function stockPostgres(conf: string): string {
  return conf
    .replace(/^shared_buffers = .*$/m, "shared_buffers = 128MB")
    .replace(/^max_connections = .*$/m, "max_connections = 100")
    .replace(/^effective_cache_size = .*$/m, "effective_cache_size = 4GB")
    .replace(/^wal_buffers = .*$/m, "wal_buffers = -1");
}

/**
 * A resident PHP cron loop, as a hand-made stack would run it: one PHP process that stays up and
 * runs cron.php every minute. Argv only; runs as www-data like our loop.
 */
export const STOCK_CRON_CMD = [
  "setpriv", "--reuid=www-data", "--regid=www-data", "--init-groups",
  "php", "-r", "for (;;) { passthru('php /var/www/moodle/admin/cli/cron.php --keep-alive=0'); sleep(60); }",
];

/**
 * Overwrite files in an instance's config folders, keeping the originals to put back. Returns the
 * restore function.
 */
export async function swapConfig(name: string, files: { service: "php" | "postgres"; file: string; content: (old: string) => string }[]): Promise<() => Promise<void>> {
  const rec = await readRecord(name);
  const saved: { file: string; old: string }[] = [];
  for (const f of files) {
    const version = f.service === "php" ? rec.spec.php : rec.spec.db.version;
    if (f.service === "postgres" && rec.spec.db.engine !== "postgres") continue;
    const file = path.join(configDir(name, f.service, version), f.file);
    const old = await fs.readFile(file, "utf8");
    saved.push({ file, old });
    await fs.writeFile(file, f.content(old));
  }
  return async () => {
    for (const s of saved) await fs.writeFile(s.file, s.old);
  };
}

/**
 * The engine health checks instances had before issue #18 (one `docker exec` per container every
 * 30 s), kept on the stock instance so one run compares them with ours (none; probes from the
 * dashboard only while watched).
 */
export function stockHealthcheck(service: string, spec: { db: { engine: string } }, port: number): { Test: string[]; Interval: number; Timeout: number; Retries: number; StartPeriod: number } {
  const test: Record<string, string[]> = {
    db: spec.db.engine === "postgres"
      ? ["pg_isready", "-q", "-h", "127.0.0.1", "-U", "moodle"]
      : ["sh", "-c", "mariadb-admin -h 127.0.0.1 ping 2>/dev/null || mysqladmin -h 127.0.0.1 ping"],
    app: ["php", "-r", "exit(@fsockopen('127.0.0.1', 9000) ? 0 : 1);"],
    web: ["curl", "-fsS", "-o", "/dev/null", `http://127.0.0.1:${port}/mdind-health`],
    cron: ["sh", "-c", "test -e /run/mdind-mode"],
  };
  return { Test: ["CMD", ...test[service]], Interval: 30e9, Timeout: 5e9, Retries: 3, StartPeriod: 120e9 };
}
