<?php
// The fixture's cron: records a heartbeat and every run, and can be made slow to test the lock.
define('CLI_SCRIPT', true);
require(__DIR__ . '/../../config.php');
global $CFG;

$start = microtime(true);
$sleep = (int)@file_get_contents($CFG->dataroot . '/cron-sleep-seconds');
file_put_contents($CFG->dataroot . '/cron-runs.log', sprintf("start %.3f pid %d\n", $start, getmypid()), FILE_APPEND | LOCK_EX);
if ($sleep > 0) {
    sleep(min($sleep, 300));
}
file_put_contents($CFG->dataroot . '/cron-heartbeat.json', json_encode(['time' => gmdate('c'), 'pid' => getmypid()]));
file_put_contents($CFG->dataroot . '/cron-runs.log', sprintf("end %.3f pid %d\n", microtime(true), getmypid()), FILE_APPEND | LOCK_EX);
echo "Cron completed\n";
