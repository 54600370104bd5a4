<?php
// The fixture's stand-in for Moodle's admin/cli/upgrade.php: compares version.php's $version with
// the one the site's database records, refuses a downgrade, and records the new version. A plugin
// folder holding a file named "upgrade_throws" makes it fail like a plugin's upgrade step would.
define('CLI_SCRIPT', true);
require(__DIR__ . '/../../config.php');
global $DB;

$opts = getopt('', ['non-interactive', 'allow-unstable']);
if (!isset($opts['non-interactive'])) {
    fwrite(STDERR, "The fixture runs only with --non-interactive\n");
    exit(2);
}
$root = dirname(__DIR__, 2);
require(is_file("$root/public/version.php") ? "$root/public/version.php" : "$root/version.php");
$new = sprintf('%.2f', $version);

$DB->exec('CREATE TABLE IF NOT EXISTS mdl_fixture_site (name VARCHAR(40), value VARCHAR(255))');
$get = function (string $k) use ($DB) {
    $q = $DB->prepare('SELECT value FROM mdl_fixture_site WHERE name = ?');
    $q->execute([$k]);
    return $q->fetchColumn();
};
$old = $get('version');
$oldrelease = $get('release') ?: 'unknown';
if ($old !== false && (float)$new < (float)$old) {
    fwrite(STDERR, "!!! Cannot downgrade Moodle: the database has $old, the code $new !!!\n");
    exit(1);
}
if ($old !== false && (float)$new === (float)$old) {
    echo "No upgrade needed for the installed version $release ($new). Thanks for coming anyway!\n";
    exit(0);
}
foreach (array_merge(glob("$root/local/*/upgrade_throws") ?: [], glob("$root/public/local/*/upgrade_throws") ?: []) as $marker) {
    $plugin = 'local_' . basename(dirname($marker));
    echo "-->System\n++ Success ++\n-->$plugin\n";
    fwrite(STDERR, "Default exception handler: Exception - $plugin upgrade failed on purpose (fixture)\n");
    exit(1);
}
$set = function (string $k, string $v) use ($DB) {
    $DB->prepare('DELETE FROM mdl_fixture_site WHERE name = ?')->execute([$k]);
    $DB->prepare('INSERT INTO mdl_fixture_site (name, value) VALUES (?, ?)')->execute([$k, $v]);
};
$set('version', $new);
$set('release', $release);
echo "-->System\n++ Success ++\n";
echo "Command line upgrade from $oldrelease ($old) to $release ($new) completed successfully.\n";
