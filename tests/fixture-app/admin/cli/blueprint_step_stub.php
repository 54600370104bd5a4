<?php
// The fixture's stand-in for lib/blueprint/php/mdind_blueprint_step.php (the fixture cannot run Moodle
// APIs). Same protocol: argv[1] is the code root, one JSON step on STDIN, the last STDOUT line is the
// JSON result. It appends what it saw to moodledata/blueprint-steps.log so tests can check order, the
// user it ran as and the materialised resources. It never writes secret values to that log.
//
// Used only when MDIND_BLUEPRINT_STEP_SCRIPT points here (integration tests).
define('CLI_SCRIPT', true);

function stub_result(array $r, int $code): void {
    fwrite(STDOUT, json_encode($r, JSON_UNESCAPED_SLASHES) . "\n");
    exit($code);
}

$root = $argv[1] ?? '';
if ($root === '' || !is_file($root . '/config.php')) {
    stub_result(['changed' => false, 'error' => 'config.php not found under argv[1]'], 2);
}
$step = json_decode((string) stream_get_contents(STDIN), true);
if (!is_array($step) || !isset($step['step']) || !is_string($step['step'])) {
    stub_result(['changed' => false, 'error' => 'step JSON must be an object with a string "step"'], 2);
}

$uid = function_exists('posix_geteuid') ? posix_geteuid() : -1;
$user = ($uid >= 0 && function_exists('posix_getpwuid')) ? (posix_getpwuid($uid)['name'] ?? '') : '';
$resources = [];
// Materialised resources at any depth ("data", "files.0.data", "roles.0"), keyed by their path.
$walk = function ($value, string $at) use (&$walk, &$resources) {
    if (!is_array($value)) {
        return;
    }
    if (isset($value['localPath']) && is_string($value['localPath'])) {
        $resources[$at] = is_file($value['localPath']) ? hash_file('sha256', $value['localPath']) : 'missing';
        return;
    }
    foreach ($value as $k => $v) {
        $walk($v, $at === '' ? (string) $k : $at . '.' . $k);
    }
};
$walk(array_diff_key($step, ['step' => 1]), '');
$hassecret = false;
array_walk_recursive($step, function ($v, $k) use (&$hassecret) {
    if (is_string($k) && preg_match('/^(password|secret|token)$/i', $k) && is_string($v) && $v !== '' && $v !== '********') {
        $hassecret = true;
    }
});
$line = [
    'step' => $step['step'],
    'label' => $step['name'] ?? ($step['shortname'] ?? ($step['username'] ?? null)),
    'uid' => $uid,
    'user' => $user,
    'root' => $root,
    'resources' => $resources,
    'gotSecret' => $hassecret,
];
file_put_contents('/var/www/moodledata/blueprint-steps.log', json_encode($line, JSON_UNESCAPED_SLASHES) . "\n", FILE_APPEND | LOCK_EX);

if (($step['username'] ?? null) === 'leak_secret') {
    // A step whose error message carries the password, as a careless PHP error might: the executor must scrub it.
    stub_result(['changed' => false, 'error' => 'createUser: cannot use password ' . ($step['password'] ?? '')], 1);
}
if (($step['name'] ?? null) === 'fail_on_purpose') {
    echo "some noise Moodle might print\n";
    stub_result(['changed' => false, 'error' => 'setConfig: failed on purpose'], 1);
}
stub_result(['changed' => true, 'detail' => 'stub recorded ' . $step['step']], 0);
