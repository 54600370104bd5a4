<?php
// The fixture's install hook: same argv as Moodle's admin/cli/install_database.php.
define('CLI_SCRIPT', true);
require(__DIR__ . '/../../config.php');
global $CFG, $DB;

require_once(__DIR__ . '/../../lib/clilib.php');
$opts = fixture_cli_get_params(['agree-license', 'fullname:', 'shortname:', 'summary:', 'adminuser:', 'adminpass:', 'adminemail:', 'lang:']);
if (!isset($opts['agree-license'])) {
    fwrite(STDERR, "--agree-license is required\n");
    exit(2);
}
$fullname = $opts['fullname'] ?? 'Fixture';
echo "== Setting up database ==\n";
if ($fullname === 'FAIL-INSTALL') {
    fwrite(STDERR, "Installation failed on purpose (site name FAIL-INSTALL)\n");
    exit(3);
}
$DB->exec('CREATE TABLE IF NOT EXISTS mdl_fixture_site (name VARCHAR(40), value VARCHAR(255))');
$DB->exec('DELETE FROM mdl_fixture_site');
$ins = $DB->prepare('INSERT INTO mdl_fixture_site (name, value) VALUES (?, ?)');
// The installed $version and $release, as Moodle keeps them in its config table (upgrade.php reads them).
$root = dirname(__DIR__, 2);
require(is_file("$root/public/version.php") ? "$root/public/version.php" : "$root/version.php");
foreach (['version' => sprintf('%.2f', $version), 'release' => $release, 'fullname' => $fullname, 'shortname' => $opts['shortname'] ?? '', 'adminuser' => $opts['adminuser'] ?? 'admin',
          'adminpasshash' => password_hash($opts['adminpass'] ?? '', PASSWORD_DEFAULT), 'adminemail' => $opts['adminemail'] ?? ''] as $k => $v) {
    $ins->execute([$k, $v]);
}
echo "-->System\n";
echo "Installation completed successfully.\n";
