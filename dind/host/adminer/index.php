<?php
// Adminer (Debian's compiled /usr/share/adminer/adminer.php) wrapped for moodle-dind:
//  - ?mdind_token=T logs in with a one-time credential file the dashboard wrote for one instance
//    (services/dbadmin/dbadmin.ts); the file is deleted on first read and expires after 60 s;
//  - logins are limited to instance databases (172.20.N.12) so the form cannot be used to probe
//    other hosts the DinD host can reach.
// Only reachable through the dashboard's authenticated /adminer proxy (php -S binds 127.0.0.1).

const MDIND_TOKEN_RE = '/^[A-Za-z0-9_-]{43}$/';
const MDIND_SERVER_RE = '/^172\.20\.(\d{1,3})\.12(:\d{1,5})?$/';

function mdind_fail(int $code, string $msg): void {
    http_response_code($code);
    header('Content-Type: text/plain; charset=utf-8');
    header('Cache-Control: no-store');
    echo $msg, "\n";
    exit;
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
    if (!in_array($driver, ['pgsql', 'server'], true) || !preg_match(MDIND_SERVER_RE, $server)) {
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
    unset($_GET['mdind_token']);
    $_SERVER['REQUEST_URI'] = '/adminer';
    $_SERVER['QUERY_STRING'] = '';
}

function adminer_object() {
    class MdindAdminer extends Adminer\Adminer {
        function name() {
            return 'moodle-dind DB admin';
        }

        function login($login, $password) {
            if (!preg_match(MDIND_SERVER_RE, Adminer\SERVER)) {
                return 'Only instance databases (172.20.N.12) can be opened here.';
            }
            return parent::login($login, $password);
        }
    }
    return new MdindAdminer();
}

include '/usr/share/adminer/adminer.php';
