<?php
// moodle-dind: run Moodle's admin/cli/install_database.php with the admin password from stdin.
// Moodle's installer takes the password only as --adminpass=…, and a process's argv is readable by
// every process in the container (ps, /proc/*/cmdline) for the whole install. This runs as
// `php -r <this file> -- <moodle root> <installer options without the password>`, reads
// {"adminpass": "…"} from stdin and hands the installer its full argv through $_SERVER['argv'],
// which is what Moodle's cli_get_params() reads; the password never reaches any argv.
// Names are prefixed and unset: the installer runs in this same global scope.
$mdind_root = $argv[1] ?? '';
$mdind_script = $mdind_root . '/admin/cli/install_database.php';
if ($mdind_root === '' || !is_file($mdind_script)) {
    fwrite(STDERR, "usage: php -r <mdind_install.php> -- <moodle root> [installer options] < {\"adminpass\": …}\n");
    exit(2);
}
$mdind_in = json_decode(stream_get_contents(STDIN), true);
if (!is_array($mdind_in) || !is_string($mdind_in['adminpass'] ?? null) || $mdind_in['adminpass'] === '') {
    fwrite(STDERR, "expected {\"adminpass\": \"…\"} on stdin\n");
    exit(2);
}
$_SERVER['argv'] = $argv = array_merge([$mdind_script], array_slice($argv, 2), ['--adminpass=' . $mdind_in['adminpass']]);
$_SERVER['argc'] = $argc = count($argv);
$_SERVER['SCRIPT_FILENAME'] = $_SERVER['SCRIPT_NAME'] = $_SERVER['PHP_SELF'] = $mdind_script;
chdir(dirname($mdind_script));
unset($mdind_root, $mdind_script, $mdind_in);
require $_SERVER['SCRIPT_FILENAME'];
