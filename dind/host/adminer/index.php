<?php
// Adminer (Debian's compiled /usr/share/adminer/adminer.php) wrapped for moodle-dind:
//  - ?mdind_token=T logs in with a one-time credential file the dashboard wrote for one instance
//    (services/dbadmin/dbadmin.ts); the file is deleted on first read and expires after 60 s;
//  - every other request may name only an instance database (172.20.N.12) or an open DB admin tunnel
//    to a cluster node's database (127.0.0.1:PORT, PORT in 9110-9149 with a marker file the
//    dashboard keeps while the tunnel is open: services/cluster/dbtunnel.ts), and Adminer's own login
//    form is refused. Adminer connects to the server a request names before its login() hook
//    judges it, so a check there turns the error page into a port scanner: the guard runs before
//    Adminer is included, and again in credentials(), the last hook before Adminer connects.
// Only reachable through the dashboard's authenticated /adminer proxy (php -S binds 127.0.0.1),
// which also holds each browser to the databases its one-time links granted.

const MDIND_TOKEN_RE = '/^[A-Za-z0-9_-]{43}$/';
// D: `$` is the end of the string, not also before a final newline (as the proxy's regexes read it).
const MDIND_SERVER_RE = '/^172\.20\.([1-9]\d{0,2})\.12$/D';
// Every query key Adminer and its driver plugins read as "connect with this driver to this server".
const MDIND_DRIVER_KEYS = ['server', 'pgsql', 'sqlite', 'sqlite2', 'oracle', 'mssql', 'firebird', 'simpledb', 'mongo',
    'elastic', 'elastic5', 'clickhouse', 'imap', 'igdb', 'redis', 'mysql', 'mariadb'];
const MDIND_ALLOWED_DRIVERS = ['pgsql', 'server'];
// The dashboard's tunnel range (services/cluster/dbtunnel.ts TUNNEL_PORT_MIN/MAX).
const MDIND_TUNNEL_RE = '/^127\.0\.0\.1:([1-9]\d{0,4})$/D';
const MDIND_TUNNEL_MIN = 9110;
const MDIND_TUNNEL_MAX = 9149;

function mdind_fail(int $code, string $msg): void {
    http_response_code($code);
    header('Content-Type: text/plain; charset=utf-8');
    header('Cache-Control: no-store');
    echo $msg, "\n";
    exit;
}

function mdind_instance_server($server): bool {
    return is_string($server) && preg_match(MDIND_SERVER_RE, $server, $m) === 1 && (int) $m[1] <= 254;
}

// The id of the tunnel open on that address (its marker file), or null when it names none.
function mdind_tunnel_id($server): ?string {
    if (!is_string($server) || preg_match(MDIND_TUNNEL_RE, $server, $m) !== 1) {
        return null;
    }
    $port = (int) $m[1];
    if ($port < MDIND_TUNNEL_MIN || $port > MDIND_TUNNEL_MAX) {
        return null;
    }
    $home = getenv('MDIND_HOME') ?: '/var/lib/moodle-dind';
    $id = @file_get_contents($home . '/state/adminer/tunnels/' . $port);
    return $id === false || trim($id) === '' ? null : trim($id);
}

function mdind_allowed_server($server): bool {
    return mdind_instance_server($server) || mdind_tunnel_id($server) !== null;
}

// The request as PHP parsed it: at most one driver key, an instance's, naming an instance database;
// a username only together with it (Adminer would otherwise fall back to MySQL on localhost).
function mdind_guard_request(): void {
    if (isset($_POST['auth'])) {
        mdind_fail(403, "Adminer's login form is off here: open the DB admin from the dashboard.");
    }
    $named = [];
    foreach (MDIND_DRIVER_KEYS as $key) {
        if (!array_key_exists($key, $_GET)) {
            continue;
        }
        if (!in_array($key, MDIND_ALLOWED_DRIVERS, true) || !mdind_allowed_server($_GET[$key])) {
            mdind_fail(403, 'Only instance databases (172.20.N.12) can be opened here.');
        }
        $named[] = $key;
    }
    if (count($named) > 1 || (isset($_GET['username']) && count($named) === 0)) {
        mdind_fail(403, 'Name one instance database.');
    }
}

if (isset($_GET['mdind_token'])) {
    $token = (string) $_GET['mdind_token'];
    if (!preg_match(MDIND_TOKEN_RE, $token)) {
        mdind_fail(400, 'Malformed DB admin link.');
    }
    $home = getenv('MDIND_HOME') ?: '/var/lib/moodle-dind';
    $file = $home . '/state/adminer/' . $token . '.json';
    $raw = @file_get_contents($file);
    @unlink($file);
    $d = $raw === false ? null : json_decode($raw, true);
    if (!is_array($d) || (int) ($d['expires'] ?? 0) < time()) {
        mdind_fail(410, 'This DB admin link has expired or was already used: open the DB admin again from the dashboard.');
    }
    $driver = (string) ($d['driver'] ?? '');
    $server = (string) ($d['server'] ?? '');
    $tunnel = mdind_tunnel_id($server);
    $viaTunnel = $tunnel !== null && hash_equals($tunnel, (string) ($d['tunnel'] ?? ''));
    if (!in_array($driver, MDIND_ALLOWED_DRIVERS, true) || !(mdind_instance_server($server) || $viaTunnel)) {
        mdind_fail(400, 'The DB admin link names an unsupported database.');
    }
    // Adminer's own login path: a POST with auth[…] sets the session and redirects to the DB.
    $_POST = ['auth' => [
        'driver' => $driver,
        'server' => $server,
        'username' => (string) ($d['username'] ?? ''),
        'password' => (string) ($d['password'] ?? ''),
        'db' => (string) ($d['db'] ?? ''),
        'permanent' => '',
    ]];
    $_SERVER['REQUEST_METHOD'] = 'POST';
    // Nothing else from the link's query reaches Adminer: it names its database only through $_POST.
    $_GET = [];
    $_SERVER['REQUEST_URI'] = '/adminer';
    $_SERVER['QUERY_STRING'] = '';
} else {
    mdind_guard_request();
}

function adminer_object() {
    class MdindAdminer extends Adminer\Adminer {
        function name() {
            return 'moodle-dind DB admin';
        }

        // Adminer asks for the credentials right before it connects: the last point to refuse a target.
        function credentials(): array {
            if (!in_array(Adminer\DRIVER, MDIND_ALLOWED_DRIVERS, true) || !mdind_allowed_server(Adminer\SERVER)) {
                mdind_fail(403, 'Only instance databases (172.20.N.12) can be opened here.');
            }
            return parent::credentials();
        }

        function login($login, $password) {
            if (!mdind_allowed_server(Adminer\SERVER)) {
                return 'Only instance databases (172.20.N.12) can be opened here.';
            }
            return parent::login($login, $password);
        }
    }
    return new MdindAdminer();
}

include '/usr/share/adminer/adminer.php';
