import os from "node:os";
import path from "node:path";
import type { InstanceSpec } from "./spec";
import { LOGIN_ENTRY_PATH, LOGIN_ENTRY_URL } from "./login-entry";
import { CRON_CONF, cronConf } from "./cron";

/**
 * Pure renderers for every file an instance's services read. They are written once at create
 * into config/<service>-<version>/ and then belong to the user: we never overwrite an edited file.
 * Inputs here are already validated (spec) or numbers we allocated; strings that reach PHP are
 * escaped with phpString.
 */
export interface RenderContext {
  spec: InstanceSpec;
  port: number;
  n: number;
  publicHost: string;
  /** Moodle 5.1+ serves from public/. */
  publicDir: boolean;
  dbPassword: string;
  /** Where the mail catcher listens, as seen from the instance network. */
  smtpHost: string;
  /** The instance's own catcher login, for an instance the catcher cannot tell by address (cluster nodes). */
  smtpPass?: string | null;
}

export const UPLOAD_MB = 256;

/** A PHP single-quoted string literal: only backslash and quote need escaping there. */
export function phpString(s: string): string {
  return `'${s.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
}

export function phpIni(ctx: RenderContext): string {
  const prod = ctx.spec.profile === "prod";
  return `; moodle-dind php.ini for ${ctx.spec.name} (PHP ${ctx.spec.php}, profile ${ctx.spec.profile}).
; Loaded after Debian's own ini files by both php-fpm and the CLI. Edit freely, then restart the app.
memory_limit = 256M
max_input_vars = 5000
max_execution_time = 300
upload_max_filesize = ${UPLOAD_MB}M
post_max_size = ${UPLOAD_MB}M
zend.exception_ignore_args = On
expose_php = Off
display_errors = ${prod ? "Off" : "On"}
log_errors = On
error_log = /var/log/php/php-error.log
date.timezone = UTC

; Moodle resolves thousands of include paths per request: keep them cached.
realpath_cache_size = 4096K
realpath_cache_ttl = 600

; OPcache sized for Moodle (~15k scripts). dev revalidates on every request; prod never does.
opcache.enable = 1
opcache.memory_consumption = 192
opcache.interned_strings_buffer = 16
opcache.max_accelerated_files = 20000
opcache.validate_timestamps = ${prod ? 0 : 1}
opcache.revalidate_freq = 0
opcache.save_comments = 1
; The cron container sets MDIND_CLI_OPCACHE=1: each minute's cron.php then loads Moodle compiled
; from a file cache in the container's /tmp instead of compiling ~1000 files again (most of a
; cron run's CPU at 100 sites, docs/performance.md). Unset (php-fpm, other CLI), these read empty: off.
opcache.enable_cli = \${MDIND_CLI_OPCACHE}
opcache.file_cache = \${MDIND_CLI_OPCACHE_DIR}
opcache.file_cache_only = \${MDIND_CLI_OPCACHE}

session.gc_probability = 0

; PostgreSQL links are persistent (dbpersist in config.php): a php-fpm worker reuses its link across
; requests. After the database restarts (db restart, snapshot restore, host restart) that link is
; dead, and reusing it unchecked failed the worker's next request with HTTP 500. On: pg_pconnect
; checks a kept link with one round trip and reconnects a dead one (docs/performance.md).
pgsql.auto_reset_persistent = On
`;
}

/**
 * Whether a php.ini (the instance's own file, possibly edited or rendered before this setting
 * existed) turns pgsql.auto_reset_persistent on. The last assignment wins, as in PHP.
 */
export function autoResetsPersistentLinks(ini: string): boolean {
  let on = false;
  for (const raw of ini.split(/\r?\n/)) {
    const m = /^\s*pgsql\.auto_reset_persistent\s*=\s*("?)([^";]*)\1\s*(;.*)?$/i.exec(raw);
    if (m) on = /^(on|1|true|yes)$/i.test(m[2].trim());
  }
  return on;
}

/**
 * How long an ondemand worker stays after its last request. php-fpm 8.2 sends an idle worker SIGQUIT,
 * SIGKILLs it if it is still there at the next 1 s maintenance pass, and respawns a worker that died
 * by a signal (fpm_process_ctl.c, fpm_children.c). On a loaded machine a worker takes seconds to
 * exit, so every instance then cycles a fresh worker once per timeout forever: at 100 real sites and
 * a 20 s timeout that loop was ~5 kills a second and 0.4 of a core (bench density, docs/performance.md).
 * A longer timeout divides that by six, and keeps a used site's worker warm for two minutes.
 */
export const FPM_IDLE_TIMEOUT_S = 120;

export function fpmConf(ctx: RenderContext): string {
  const children = Math.max(2, Math.min(8, os.cpus().length * 2));
  return `; moodle-dind php-fpm for ${ctx.spec.name}. ondemand: no idle workers, so an idle instance costs little.
[global]
error_log = /var/log/php/fpm.log
daemonize = no
; A reload (the image frees OPcache when the site goes idle) lets a request in flight finish.
process_control_timeout = 10s

[www]
user = www-data
group = www-data
listen = 0.0.0.0:9000
pm = ondemand
pm.max_children = ${children}
pm.process_idle_timeout = ${FPM_IDLE_TIMEOUT_S}s
pm.max_requests = 1000
clear_env = no
catch_workers_output = yes
decorate_workers_output = no
slowlog = /var/log/php/slow.log
request_slowlog_timeout = 10s
`;
}

export function postgresConf(ctx: RenderContext): string {
  return `# moodle-dind postgresql.conf for ${ctx.spec.name} (PostgreSQL ${ctx.spec.db.version}).
# Small buffers: a dev-sized Moodle fits in a few MB. Raise shared_buffers for big sites.
data_directory = '/var/lib/postgresql/data'
hba_file = '/var/lib/postgresql/data/pg_hba.conf'
ident_file = '/var/lib/postgresql/data/pg_ident.conf'
listen_addresses = '*'
port = 5432
max_connections = 40
shared_buffers = 16MB
work_mem = 4MB
maintenance_work_mem = 32MB
effective_cache_size = 128MB
wal_buffers = 1MB
max_wal_size = 256MB
synchronous_commit = off
jit = off
autovacuum_naptime = 5min
logging_collector = on
log_directory = '/var/log/postgresql'
log_filename = 'postgresql.log'
log_file_mode = 0644
log_min_duration_statement = 2000
`;
}

export function mariadbConf(ctx: RenderContext): string {
  return `# moodle-dind my.cnf for ${ctx.spec.name} (MariaDB ${ctx.spec.db.version}).
[mysqld]
bind-address = 0.0.0.0
port = 3306
skip-name-resolve
character-set-server = utf8mb4
collation-server = utf8mb4_unicode_ci
innodb_buffer_pool_size = 32M
innodb_log_buffer_size = 4M
innodb_flush_log_at_trx_commit = 2
performance_schema = OFF
max_connections = 40
key_buffer_size = 1M
log_error = /var/log/mysql/error.log
slow_query_log = 1
slow_query_log_file = /var/log/mysql/slow.log
long_query_time = 2
`;
}

/** Paths nobody should fetch over HTTP: internals, dotfiles, composer and upgrade texts. */
const DENY_RE = String.raw`(/\.|/(vendor|node_modules|composer\.(json|lock)|environment\.xml|install\.xml|upgrade\.txt|readme\.(md|txt)|phpunit\.xml|behat\.yml|\.git)(/|$))`;

export function nginxSite(ctx: RenderContext): string {
  const root = ctx.publicDir ? "/var/www/moodle/public" : "/var/www/moodle";
  const fallback = ctx.publicDir ? "/r.php" : "=404";
  return `# moodle-dind nginx site for ${ctx.spec.name}. Listens on the published port itself, so the port
# Moodle sees equals the one in wwwroot (otherwise Moodle redirects in a loop).
server {
    listen ${ctx.port} default_server;
    server_name _;
    root ${root};
    index index.php index.html;
    client_max_body_size ${UPLOAD_MB}m;
    access_log /var/log/nginx/access.log;
    error_log /var/log/nginx/error.log;

    location = /mdind-health { access_log off; default_type text/plain; return 200 "ok\\n"; }

    location ~* ${DENY_RE} { return 404; }

    # moodle-dind's one-time admin login: a file outside Moodle's code, mounted read-only (login-entry.ts).
    location = ${LOGIN_ENTRY_URL} {
        include /etc/nginx/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME ${LOGIN_ENTRY_PATH};
        fastcgi_param SERVER_PORT ${ctx.port};
        fastcgi_param HTTP_PROXY "";
        fastcgi_pass app:9000;
    }

    # Slash arguments: /pluginfile.php/1/…, /theme/styles.php/… carry PATH_INFO.
    location ~ [^/]\\.php(/|$) {
        fastcgi_split_path_info ^(.+?\\.php)(/.*)$;
        if (!-f $document_root$fastcgi_script_name) { return 404; }
        include /etc/nginx/fastcgi_params;
        fastcgi_param SCRIPT_FILENAME $document_root$fastcgi_script_name;
        fastcgi_param PATH_INFO $fastcgi_path_info;
        fastcgi_param SERVER_PORT ${ctx.port};
        fastcgi_param HTTP_PROXY "";
        fastcgi_read_timeout 300s;
        fastcgi_buffers 16 32k;
        fastcgi_buffer_size 64k;
        fastcgi_pass app:9000;
    }

    # Files Moodle hands over with X-Accel-Redirect, served straight from moodledata.
    location /dataroot/ {
        internal;
        alias /var/www/moodledata/;
    }

    location / {
        try_files $uri $uri/ ${fallback};
    }
}
`;
}

export function apacheSite(ctx: RenderContext): string {
  const root = ctx.publicDir ? "/var/www/moodle/public" : "/var/www/moodle";
  return `# moodle-dind apache site for ${ctx.spec.name}. Proxies PHP to php-fpm in the app container.
Listen ${ctx.port}
ServerName localhost
<VirtualHost *:${ctx.port}>
    DocumentRoot ${root}
    ErrorLog /var/log/apache2/error.log
    CustomLog /var/log/apache2/access.log combined
    LimitRequestBody ${UPLOAD_MB * 1024 * 1024}
    AcceptPathInfo On
    <Directory ${root}>
        Options FollowSymLinks
        AllowOverride None
        Require all granted
        DirectoryIndex index.php index.html
${ctx.publicDir ? "        FallbackResource /r.php\n" : ""}    </Directory>
    RedirectMatch 404 "${DENY_RE}"
    # Only this one file of the config folder is reachable, for the health probe.
    Alias /mdind-health /etc/moodle-dind/apache/health.txt
    <Directory /etc/moodle-dind/apache>
        Require all denied
        <Files "health.txt">
            Require all granted
            SetHandler none
        </Files>
    </Directory>
    # moodle-dind's one-time admin login: a file outside Moodle's code, mounted read-only (login-entry.ts).
    Alias ${LOGIN_ENTRY_URL} ${LOGIN_ENTRY_PATH}
    <Directory ${path.posix.dirname(LOGIN_ENTRY_PATH)}>
        Require all granted
    </Directory>
    <FilesMatch "\\.php$">
        SetHandler "proxy:fcgi://app:9000"
    </FilesMatch>
    <Proxy "fcgi://app:9000">
        ProxySet timeout=300
    </Proxy>
    SetEnv SERVER_PORT ${ctx.port}
</VirtualHost>
`;
}

/** config.php for Moodle (and for the CI fixture, which reads the same $CFG fields). */
export function moodleConfig(ctx: RenderContext): string {
  const { spec } = ctx;
  const pg = spec.db.engine === "postgres";
  const wwwroot = `http://${ctx.publicHost}:${ctx.port}`;
  return `<?php  // Moodle configuration file, generated by moodle-dind for instance ${spec.name}.
unset($CFG);
global $CFG;
$CFG = new stdClass();

$CFG->dbtype    = ${phpString(pg ? "pgsql" : "mariadb")};
$CFG->dblibrary = 'native';
$CFG->dbhost    = 'db';
$CFG->dbname    = 'moodle';
$CFG->dbuser    = 'moodle';
$CFG->dbpass    = ${phpString(ctx.dbPassword)};
$CFG->prefix    = 'mdl_';
$CFG->dboptions = array(
    // PostgreSQL: php-fpm workers keep their connection. A new one costs a backend fork, SCRAM
    // and cold catalog caches, ~16 of the ~44 ms a login page took (measured, docs/performance.md).
    // Workers exit after FPM_IDLE_TIMEOUT_S idle, so an idle instance holds no connection. A link the database
    // dropped (it restarted) is checked and reconnected before reuse: php.ini's pgsql.auto_reset_persistent.
    'dbpersist' => ${pg ? 1 : 0},
    'dbport' => ${pg ? 5432 : 3306},
    'dbsocket' => '',
${pg ? "" : "    'dbcollation' => 'utf8mb4_unicode_ci',\n"});

$CFG->wwwroot   = ${phpString(wwwroot)};
$CFG->dataroot  = '/var/www/moodledata';
$CFG->admin     = 'admin';
$CFG->directorypermissions = 02777;

// Browsers ignore the port for cookies: a per-instance name keeps two sites on one host logged in.
$CFG->sessioncookie = ${phpString(`mdind${spec.name.replace(/-/g, "")}`)};
// Node-local caches off the shared dataroot.
$CFG->localcachedir = '/var/www/moodledata/localcache';
// Mail goes to the moodle-dind catcher; nothing leaves the machine.
$CFG->smtphosts = ${phpString(ctx.smtpHost)};
${ctx.smtpPass ? `$CFG->smtpuser = ${phpString(spec.name)};\n$CFG->smtppass = ${phpString(ctx.smtpPass)};\n` : ""}$CFG->noreplyaddress = ${phpString(`noreply@${spec.name}.moodle-dind.test`)};
// Served straight over HTTP on the published port; no proxy in front rewrites the scheme.
$CFG->reverseproxy = false;
$CFG->sslproxy = false;
${ctx.publicDir ? "$CFG->routerconfigured = true;\n" : ""}$CFG->xsendfile = ${phpString(spec.web.server === "nginx" ? "X-Accel-Redirect" : "")};
$CFG->xsendfilealiases = array('/dataroot/' => $CFG->dataroot);

require_once(__DIR__ . '/lib/setup.php');
`;
}

/** Every config file of an instance: path relative to config/, and its content. */
export function renderAll(ctx: RenderContext): { dir: string; file: string; content: string }[] {
  const { spec } = ctx;
  const out = [
    { dir: `php-${spec.php}`, file: "php.ini", content: phpIni(ctx) },
    { dir: `php-${spec.php}`, file: "fpm.conf", content: fpmConf(ctx) },
    { dir: `php-${spec.php}`, file: CRON_CONF, content: cronConf(spec.name) },
  ];
  if (spec.db.engine === "postgres") out.push({ dir: `postgres-${spec.db.version}`, file: "postgresql.conf", content: postgresConf(ctx) });
  else out.push({ dir: `mariadb-${spec.db.version}`, file: "my.cnf", content: mariadbConf(ctx) });
  if (spec.web.server === "nginx") out.push({ dir: `nginx-${spec.web.version}`, file: "site.conf", content: nginxSite(ctx) });
  else {
    out.push({ dir: `apache-${spec.web.version}`, file: "site.conf", content: apacheSite(ctx) });
    out.push({ dir: `apache-${spec.web.version}`, file: "health.txt", content: "ok\n" });
  }
  return out;
}
