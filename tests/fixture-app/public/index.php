<?php
// Proves the stack: PHP runs, reads and writes the DB, writes moodledata, sees cron, sends mail.
require(__DIR__ . '/config.php');
global $CFG, $DB;

header('Content-Type: application/json');
$out = ['app' => 'moodle-dind fixture', 'php' => PHP_VERSION, 'memory_limit' => ini_get('memory_limit'),
        'wwwroot' => $CFG->wwwroot, 'dbtype' => $CFG->dbtype, 'sessioncookie' => $CFG->sessioncookie];

// Like Moodle's front page in maintenance mode: 503 until admin/cli/maintenance.php --disable.
try {
    if ($DB->query("SELECT value FROM mdl_fixture_site WHERE name = 'maintenance'")->fetchColumn() === '1') {
        http_response_code(503);
        echo json_encode(['app' => 'moodle-dind fixture', 'maintenance' => true]), "\n";
        exit;
    }
} catch (PDOException $e) {
    // No site table yet: not installed, so not in maintenance either.
}
$DB->exec('CREATE TABLE IF NOT EXISTS mdl_fixture_visits (id INTEGER, at VARCHAR(40))');
$DB->exec("INSERT INTO mdl_fixture_visits (id, at) VALUES (1, '" . gmdate('c') . "')");
$out['db_visits'] = (int)$DB->query('SELECT COUNT(*) FROM mdl_fixture_visits')->fetchColumn();
$out['site'] = null;
try {
    $out['site'] = $DB->query("SELECT value FROM mdl_fixture_site WHERE name = 'fullname'")->fetchColumn();
} catch (PDOException $e) {
    $out['site'] = null;
}

$counter = $CFG->dataroot . '/fixture-counter.txt';
$n = (int)@file_get_contents($counter) + 1;
if (file_put_contents($counter, (string)$n) === false) {
    http_response_code(500);
}
$out['moodledata_counter'] = $n;

$hb = @file_get_contents($CFG->dataroot . '/cron-heartbeat.json');
$out['cron'] = $hb ? json_decode($hb, true) : null;

if (isset($_GET['mail'])) {
    $to = preg_replace('/[^a-z0-9@._-]/i', '', (string)$_GET['mail']) ?: 'someone@example.test';
    fixture_send_mail($to, 'Fixture mail ' . $n, "Hello from the fixture app.\nVisit $n.");
    $out['mail_sent_to'] = $to;
}
echo json_encode($out, JSON_PRETTY_PRINT), "\n";
