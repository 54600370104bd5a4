<?php
// The fixture's stand-in for Moodle's cli_get_params(): options come from $_SERVER['argv'], as in
// Moodle, not from the process's own argv as getopt() reads them. moodle-dind's installer wrapper
// (instances/php/mdind_install.php) passes the admin password only there, so a fixture reading
// getopt() would miss it where real Moodle sees it. Same shape as getopt(): a flag maps to false.
function fixture_cli_get_params(array $long): array {
    $known = [];
    foreach ($long as $o) {
        $known[rtrim($o, ':')] = substr($o, -1) === ':';
    }
    $out = [];
    foreach (array_slice($_SERVER['argv'] ?? [], 1) as $arg) {
        if ($arg === '--') {
            break;
        }
        if (!preg_match('/^--([^=]+)(?:=(.*))?$/s', $arg, $m) || !array_key_exists($m[1], $known)) {
            continue;
        }
        $out[$m[1]] = $known[$m[1]] ? ($m[2] ?? '') : false;
    }
    return $out;
}
