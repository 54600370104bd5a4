<?php
// Like Moodle 5.1's public/config.php: the real config.php lives one level up.
$configfile = __DIR__ . '/../config.php';
if (!file_exists($configfile)) {
    http_response_code(503);
    die('not configured');
}
require($configfile);
// Real Moodle keeps file sessions in moodledata/sessions, made by its first page view (a template's
// warm-up, a clone's first visit). With the folder the cron loop tells an idle site from a used one,
// as it does for real Moodle, instead of running every minute because sessions might live elsewhere.
if (PHP_SAPI !== 'cli' && !is_dir($CFG->dataroot . '/sessions')) {
    @mkdir($CFG->dataroot . '/sessions', 02777, true);
}
