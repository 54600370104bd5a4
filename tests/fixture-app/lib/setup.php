<?php
// The fixture's stand-in for Moodle's lib/setup.php: connect to the database named in $CFG.
global $CFG, $DB;

/**
 * The database handle: PDO, or with PostgreSQL and $CFG->dboptions['dbpersist'] (what moodle-dind
 * writes) a persistent pgsql link like Moodle's pgsql driver keeps (see fixture_pg_db below).
 * @return PDO|fixture_pg_db
 */
function fixture_db() {
    global $CFG;
    if ($CFG->dbtype === 'pgsql' && !empty($CFG->dboptions['dbpersist'])) {
        return fixture_pg_db::connect();
    }
    if ($CFG->dbtype === 'pgsql') {
        $dsn = "pgsql:host={$CFG->dbhost};port={$CFG->dboptions['dbport']};dbname={$CFG->dbname}";
    } else {
        $dsn = "mysql:host={$CFG->dbhost};port={$CFG->dboptions['dbport']};dbname={$CFG->dbname};charset=utf8mb4";
    }
    return new PDO($dsn, $CFG->dbuser, $CFG->dbpass, [PDO::ATTR_ERRMODE => PDO::ERRMODE_EXCEPTION]);
}

function fixture_send_mail(string $to, string $subject, string $body): void {
    global $CFG;
    [$host, $port] = explode(':', $CFG->smtphosts) + [1 => 25];
    $fp = fsockopen($host, (int)$port, $errno, $errstr, 5);
    if (!$fp) {
        throw new RuntimeException("smtp connect to {$CFG->smtphosts} failed: $errstr");
    }
    $expect = function (string $code) use ($fp) {
        do {
            $line = fgets($fp, 1024);
        } while ($line !== false && isset($line[3]) && $line[3] === '-');
        if ($line === false || strpos($line, $code) !== 0) {
            throw new RuntimeException("smtp: expected $code, got " . trim((string)$line));
        }
    };
    $send = function (string $l) use ($fp) { fwrite($fp, $l . "\r\n"); };
    $expect('220');
    $send('EHLO fixture'); $expect('250');
    if (!empty($CFG->smtpuser)) {
        // As Moodle's PHPMailer does when config.php sets smtpuser (instances on cluster nodes).
        $send('AUTH PLAIN ' . base64_encode("\0{$CFG->smtpuser}\0{$CFG->smtppass}")); $expect('235');
    }
    $send("MAIL FROM:<{$CFG->noreplyaddress}>"); $expect('250');
    $send("RCPT TO:<$to>"); $expect('250');
    $send('DATA'); $expect('354');
    $send("From: {$CFG->noreplyaddress}");
    $send("To: $to");
    $send("Subject: $subject");
    $send('Content-Type: text/plain; charset=utf-8');
    $send('');
    $send(str_replace("\n.", "\n..", $body));
    $send('.'); $expect('250');
    $send('QUIT');
    fclose($fp);
}

/**
 * What Moodle's pgsql_native_moodle_database does with dbpersist: pg_pconnect, so each php-fpm worker
 * keeps one link across requests, a check of pg_connection_status, then 'CLOSE ALL' on it with the
 * result ignored. When the database restarted since the link was made, the kept link is dead: PHP's
 * own RESET ALL on it fails and the status turns bad, so the request ends with an error page and
 * HTTP 500, as Moodle's dml_connection_exception does. Unless php.ini says
 * pgsql.auto_reset_persistent = On: then pg_pconnect checks a kept link before that and reconnects
 * a dead one. The PDO methods the fixture uses
 * are here too (exec, query, prepare, execute, fetchColumn, fetch, fetchAll); a failed query on a
 * live link throws PDOException, as PDO would.
 */
final class fixture_pg_db {
    /** @var resource|\PgSql\Connection */
    private $link;

    private function __construct($link) {
        $this->link = $link;
    }

    public static function connect(): self {
        global $CFG;
        $conn = sprintf("host='%s' port='%d' user='%s' password='%s' dbname='%s'",
            addcslashes($CFG->dbhost, "'\\"), (int)$CFG->dboptions['dbport'], addcslashes($CFG->dbuser, "'\\"),
            addcslashes($CFG->dbpass, "'\\"), addcslashes($CFG->dbname, "'\\"));
        $link = @pg_pconnect($conn, PGSQL_CONNECT_FORCE_NEW);
        if ($link === false) {
            fixture_db_error('Database connection failed: ' . (error_get_last()['message'] ?? 'pg_pconnect failed'));
        }
        // PHP sends RESET ALL on a kept link it hands out: on a dead one that fails and marks it bad.
        if (pg_connection_status($link) === PGSQL_CONNECTION_BAD) {
            fixture_db_error('Database connection failed: the kept link is dead (' . trim(pg_last_error($link)) . ')');
        }
        $r = @pg_query($link, 'CLOSE ALL');
        if ($r !== false) {
            pg_free_result($r);
        }
        return new self($link);
    }

    /** Run one statement with ? placeholders; the result, or an error page when the link is dead. */
    public function run(string $sql, array $params = []) {
        $i = 0;
        $sql = preg_replace_callback('/\?/', function () use (&$i) { return '$' . ++$i; }, $sql);
        $r = @pg_query_params($this->link, $sql, array_values($params));
        if ($r === false) {
            $err = pg_last_error($this->link);
            if (pg_connection_status($this->link) === PGSQL_CONNECTION_BAD) {
                fixture_db_error('Error reading from database: ' . $err);
            }
            throw new PDOException($err);
        }
        return $r;
    }

    public function exec(string $sql): int {
        return pg_affected_rows($this->run($sql));
    }

    public function query(string $sql): fixture_pg_statement {
        $st = new fixture_pg_statement($this, $sql);
        $st->execute();
        return $st;
    }

    public function prepare(string $sql): fixture_pg_statement {
        return new fixture_pg_statement($this, $sql);
    }
}

final class fixture_pg_statement {
    private $db;
    private $sql;
    private $result = null;

    public function __construct(fixture_pg_db $db, string $sql) {
        $this->db = $db;
        $this->sql = $sql;
    }

    public function execute(array $params = []): bool {
        $this->result = $this->db->run($this->sql, $params);
        return true;
    }

    /** @return mixed the first column of the next row, false when there is none */
    public function fetchColumn(int $column = 0) {
        $row = $this->result ? pg_fetch_row($this->result) : false;
        return $row === false ? false : $row[$column];
    }

    /** @return array|false the next row by column name */
    public function fetch() {
        return $this->result ? pg_fetch_assoc($this->result) : false;
    }

    public function fetchAll(): array {
        return $this->result ? (pg_fetch_all($this->result) ?: []) : [];
    }
}

/** A database failure ends the request the way Moodle's error page does: 500 on the web, exit 1 in the CLI. */
function fixture_db_error(string $message): void {
    if (PHP_SAPI === 'cli') {
        fwrite(STDERR, "$message\n");
        exit(1);
    }
    error_log("fixture: $message");
    if (!headers_sent()) {
        http_response_code(500);
        header('Content-Type: text/html; charset=utf-8');
    }
    echo '<!DOCTYPE html><html><head><title>Error</title></head><body><h1>Error reading from database</h1><p>',
        htmlspecialchars($message, ENT_QUOTES), '</p></body></html>';
    exit;
}

if (!defined('ABORT_AFTER_CONFIG')) {
    $DB = fixture_db();
}

require_once(__DIR__ . '/sessionlib.php');

// Real Moodle keeps file sessions in moodledata/sessions, made by its first page view (a template's
// warm-up, a clone's first visit). With the folder the cron loop tells an idle site from a used one,
// as it does for real Moodle, instead of running every minute because sessions might live elsewhere.
// Here rather than in public/config.php, which builds before 5.1 do not have.
if (PHP_SAPI !== 'cli' && !empty($CFG->dataroot) && !is_dir($CFG->dataroot . '/sessions')) {
    @mkdir($CFG->dataroot . '/sessions', 02777, true);
}
