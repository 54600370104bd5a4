<?php
// The fixture's stand-in for Moodle's lib/setup.php: connect to the database named in $CFG.
global $CFG, $DB;

function fixture_db(): PDO {
    global $CFG;
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

if (!defined('ABORT_AFTER_CONFIG')) {
    $DB = fixture_db();
}
