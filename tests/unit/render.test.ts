import { describe, expect, it } from "vitest";
import { autoResetsPersistentLinks, fpmConf, FPM_IDLE_TIMEOUT_S, moodleConfig, nginxSite, phpIni, phpString, renderAll, apacheSite, type RenderContext } from "../../instances/render";
import { parseCreateInput, resolveSpec } from "../../instances/spec";

function ctx(over: Partial<RenderContext> = {}, input: Record<string, unknown> = {}): RenderContext {
  return {
    spec: resolveSpec(parseCreateInput({ name: "site-a", moodle: "5.1", php: "8.2", ...input }), "5.1"),
    port: 8007, n: 7, publicHost: "127.0.0.1", publicDir: true, dbPassword: "pw", smtpHost: "172.20.7.1:1025", ...over,
  };
}

describe("config rendering", () => {
  it("writes version-named folders for the chosen services", () => {
    const dirs = renderAll(ctx()).map((f) => `${f.dir}/${f.file}`);
    expect(dirs).toEqual(["php-8.2/php.ini", "php-8.2/fpm.conf", "php-8.2/cron.conf", "postgres-15/postgresql.conf", "nginx-1.22/site.conf"]);
    const maria = renderAll(ctx({}, { db: "mariadb:10.11", web: "apache" })).map((f) => `${f.dir}/${f.file}`);
    expect(maria).toContain("mariadb-10.11/my.cnf");
    expect(maria).toContain("apache-2.4/site.conf");
  });
  it("meets Moodle's php.ini checks", () => {
    const ini = phpIni(ctx());
    expect(ini).toMatch(/max_input_vars = 5000/);
    expect(ini).toMatch(/memory_limit = 256M/);
    expect(ini).toMatch(/opcache.enable = 1/);
    expect(ini).toMatch(/opcache.validate_timestamps = 1/);
    expect(phpIni(ctx({}, { profile: "prod" }))).toMatch(/opcache.validate_timestamps = 0/);
  });
  it("keeps ondemand workers long enough that a loaded machine does not cycle them (php-fpm's SIGKILL respawn loop)", () => {
    const conf = fpmConf(ctx());
    expect(conf).toMatch(/^pm = ondemand$/m);
    expect(FPM_IDLE_TIMEOUT_S).toBeGreaterThanOrEqual(60);
    expect(conf).toContain(`pm.process_idle_timeout = ${FPM_IDLE_TIMEOUT_S}s`);
  });
  it("serves public/ on 5.1 with r.php routing, path info and the published port", () => {
    const site = nginxSite(ctx());
    expect(site).toMatch(/root \/var\/www\/moodle\/public;/);
    expect(site).toMatch(/try_files \$uri \$uri\/ \/r\.php;/);
    expect(site).toMatch(/listen 8007 default_server/);
    expect(site).toMatch(/fastcgi_param SERVER_PORT 8007/);
    expect(site).toMatch(/fastcgi_split_path_info/);
    expect(site).toMatch(/internal;\s+alias \/var\/www\/moodledata\//);
    const old = nginxSite(ctx({ publicDir: false }));
    expect(old).toMatch(/root \/var\/www\/moodle;/);
    expect(old).not.toMatch(/r\.php/);
  });
  it("aligns the upload size between php.ini and the web server", () => {
    const mb = /upload_max_filesize = (\d+)M/.exec(phpIni(ctx()))![1];
    expect(nginxSite(ctx())).toContain(`client_max_body_size ${mb}m`);
    expect(apacheSite(ctx())).toContain(`LimitRequestBody ${Number(mb) * 1024 * 1024}`);
  });
  it("gives every instance its own session cookie and escapes PHP strings", () => {
    const a = moodleConfig(ctx());
    const b = moodleConfig(ctx({}, { name: "site-b" }));
    const cookie = (s: string) => /sessioncookie = '([^']+)'/.exec(s)![1];
    expect(cookie(a)).not.toBe(cookie(b));
    expect(a).toContain("$CFG->wwwroot   = 'http://127.0.0.1:8007';");
    expect(a).toContain("$CFG->routerconfigured = true;");
    expect(a).toContain("$CFG->smtphosts = '172.20.7.1:1025';");
    expect(a).not.toContain("smtpuser");
    // A cluster node's instance logs in to the catcher as itself.
    const far = moodleConfig(ctx({ smtpHost: "10.213.7.1:1025", smtpPass: "p'w" }, { name: "far-1" }));
    expect(far).toContain("$CFG->smtpuser = 'far-1';\n$CFG->smtppass = 'p\\'w';");
    const hostile = moodleConfig(ctx({ dbPassword: "x';system('id');//\\" }));
    expect(hostile).toContain(`$CFG->dbpass    = 'x\\';system(\\'id\\');//\\\\';`);
    expect(phpString("a'b\\")).toBe("'a\\'b\\\\'");
  });
  it("uses the MariaDB driver and collation for MariaDB", () => {
    const c = moodleConfig(ctx({}, { db: "mariadb:10.11" }));
    expect(c).toContain("$CFG->dbtype    = 'mariadb';");
    expect(c).toContain("'dbcollation' => 'utf8mb4_unicode_ci'");
  });

  it("keeps PostgreSQL connections per php-fpm worker, and not MariaDB's (measured only on PostgreSQL)", () => {
    expect(moodleConfig(ctx())).toContain("'dbpersist' => 1,");
    expect(moodleConfig(ctx({}, { db: "mariadb:10.11" }))).toContain("'dbpersist' => 0,");
  });

  it("has php-fpm check a kept PostgreSQL link and reconnect a dead one (issue #18: 500s after a db restart)", () => {
    expect(phpIni(ctx())).toMatch(/^pgsql\.auto_reset_persistent = On$/m);
    expect(phpIni(ctx({}, { profile: "prod" }))).toMatch(/^pgsql\.auto_reset_persistent = On$/m);
    expect(autoResetsPersistentLinks(phpIni(ctx()))).toBe(true);
  });

  it("reads whether an instance's own php.ini resets dead links, as PHP would", () => {
    // An instance rendered before the setting existed, or a user's edit: lifecycle reloads php-fpm then.
    expect(autoResetsPersistentLinks("memory_limit = 256M\n")).toBe(false);
    expect(autoResetsPersistentLinks("; pgsql.auto_reset_persistent = On\n")).toBe(false);
    expect(autoResetsPersistentLinks("pgsql.auto_reset_persistent = Off\n")).toBe(false);
    expect(autoResetsPersistentLinks("pgsql.auto_reset_persistent=1 ; checked\r\n")).toBe(true);
    expect(autoResetsPersistentLinks('PGSQL.AUTO_RESET_PERSISTENT = "yes"\n')).toBe(true);
    // The last assignment wins.
    expect(autoResetsPersistentLinks("pgsql.auto_reset_persistent = On\npgsql.auto_reset_persistent = 0\n")).toBe(false);
    expect(autoResetsPersistentLinks("pgsql.auto_reset_persistent = Off\npgsql.auto_reset_persistent = true\n")).toBe(true);
  });
});
