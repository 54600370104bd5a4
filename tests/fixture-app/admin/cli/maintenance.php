<?php
// The fixture's stand-in for Moodle's admin/cli/maintenance.php: --enable / --disable record the
// mode in the site table, as Moodle records maintenance_enabled in its config table.
define('CLI_SCRIPT', true);
require(__DIR__ . '/../../config.php');
global $DB;

$opts = getopt('', ['enable', 'disable']);
if (isset($opts['enable']) === isset($opts['disable'])) {
    fwrite(STDERR, "Use --enable or --disable\n");
    exit(2);
}
$on = isset($opts['enable']) ? '1' : '0';
$DB->exec('CREATE TABLE IF NOT EXISTS mdl_fixture_site (name VARCHAR(40), value VARCHAR(255))');
$DB->prepare("DELETE FROM mdl_fixture_site WHERE name = 'maintenance'")->execute();
$DB->prepare("INSERT INTO mdl_fixture_site (name, value) VALUES ('maintenance', ?)")->execute([$on]);
echo $on === '1' ? "Maintenance mode is enabled\n" : "Maintenance mode is disabled\n";
