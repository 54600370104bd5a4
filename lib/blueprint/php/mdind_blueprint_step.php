<?php
// Moodle DinD blueprint step runner.
//
// Runs ONE blueprint step inside the Moodle app container:
//
//     php mdind_blueprint_step.php /path/to/moodle/code/root < step.json
//
// The step comes from STDIN as JSON (the normalised step from lib/blueprint: {"step": "createCourse", ...}),
// never from argv, so no step value ever passes through a shell. argv[1] is the code root (the folder
// holding config.php; for Moodle 5.1 that is the project root, not public/).
//
// The last line on STDOUT is the result, one JSON object:
//     {"changed": true|false, "detail": "..."}                       exit code 0
//     {"changed": false, "error": "...", "log": "..."}               exit code 1 (step failed) or 2 (bad input/boot)
// Anything Moodle itself prints is captured and only returned in "log" on failure.
//
// Every step is idempotent: running the same step twice leaves the site as after the first run and
// reports changed=false the second time. Objects are matched by their natural keys (category idnumber or
// name+parent, course shortname, username, cohort idnumber or name, module idnumber or name+section, section
// name, role shortname, scale name+course) and only what differs is written.
//
// Resource fields ("data") must be materialised by the executor before the step is sent here:
//     {"localPath": "/abs/path/in/container"}   a file the executor copied into the container
//     {"base64": "..."} or {"literal": "..."}   small inline content
// URL, bundled and data-url descriptors are resolved host-side (with the policy's caps) and never here.
//
// File steps (mkdir, writeFile, unzip, ...) and request never come here: the executor runs them host-side.
//
// installMoodlePlugin / installTheme: the executor extracts the ZIP host-side (lib/blueprint/zip.ts,
// installPluginZip) and runs admin/cli/upgrade.php; this script then only verifies that the component is
// installed and up to date, given "component" (or pluginType + pluginName).
//
// Kept compatible with PHP 7.4 (Moodle 4.1) on purpose: no match, no nullsafe, no str_starts_with.

define('CLI_SCRIPT', true);

const MDIND_MAX_INPUT = 64 * 1024 * 1024;
$GLOBALS['mdind_done'] = false;

/** Print the result line and stop. Written straight to STDOUT, past any output buffer. */
function mdind_finish(array $result, int $code): void {
    $noise = '';
    while (ob_get_level() > 0) {
        $noise .= (string) ob_get_clean();
    }
    if (isset($result['error']) && trim($noise) !== '') {
        $result['log'] = substr(trim($noise), -4000);
    }
    $GLOBALS['mdind_done'] = true;
    fwrite(STDOUT, json_encode($result, JSON_UNESCAPED_SLASHES | JSON_INVALID_UTF8_SUBSTITUTE) . "\n");
    exit($code);
}

function mdind_fail(string $message, int $code = 1): void {
    mdind_finish(['changed' => false, 'error' => $message], $code);
}

if (PHP_SAPI !== 'cli') {
    exit(2);
}

// A fatal error skips every catch block; still leave a parseable last line.
register_shutdown_function(function () {
    if (!empty($GLOBALS['mdind_done'])) {
        return;
    }
    $err = error_get_last();
    $msg = $err ? ($err['message'] . ' in ' . basename($err['file']) . ':' . $err['line']) : 'exited without a result';
    mdind_finish(['changed' => false, 'error' => 'PHP fatal: ' . $msg], 1);
});

$mdindroot = isset($argv[1]) ? (string) $argv[1] : '';
if ($mdindroot === '' || strpos($mdindroot, "\0") !== false || !is_file($mdindroot . '/config.php')) {
    mdind_fail('usage: php mdind_blueprint_step.php <moodle code root> < step.json (config.php not found)', 2);
}
$mdindroot = realpath($mdindroot);

$mdindraw = stream_get_contents(STDIN, MDIND_MAX_INPUT + 1);
if ($mdindraw === false || strlen($mdindraw) > MDIND_MAX_INPUT) {
    mdind_fail('step JSON on STDIN is missing or larger than 64 MiB', 2);
}
try {
    $mdindstep = json_decode($mdindraw, true, 64, JSON_THROW_ON_ERROR);
} catch (\JsonException $e) {
    mdind_fail('step JSON on STDIN is invalid: ' . $e->getMessage(), 2);
}
unset($mdindraw);
if (!is_array($mdindstep) || !isset($mdindstep['step']) || !is_string($mdindstep['step'])) {
    mdind_fail('step JSON must be an object with a string "step"', 2);
}

ob_start();
try {
    require($argv[1] . '/config.php');
    global $CFG, $DB, $USER;
    require_once($CFG->libdir . '/filelib.php');
    // Steps act as the site administrator, exactly as the admin would through the UI.
    \core\session\manager::set_user(get_admin());
} catch (\Throwable $e) {
    mdind_fail('Moodle did not boot: ' . $e->getMessage(), 2);
}

// ---- input helpers (the TS side validated already; this is the second line of defence) -------------

class mdind_input_exception extends \Exception {
}

function mdind_str(array $a, string $key, bool $required, string $pattern = '', int $max = 255): ?string {
    if (!array_key_exists($key, $a) || $a[$key] === null) {
        if ($required) {
            throw new mdind_input_exception("'{$key}' is required");
        }
        return null;
    }
    $v = $a[$key];
    if (!is_string($v)) {
        throw new mdind_input_exception("'{$key}' must be a string");
    }
    if (core_text::strlen($v) > $max) {
        throw new mdind_input_exception("'{$key}' is longer than {$max} characters");
    }
    if (strpos($v, "\0") !== false) {
        throw new mdind_input_exception("'{$key}' contains NUL");
    }
    if ($pattern !== '' && !preg_match($pattern, $v)) {
        throw new mdind_input_exception("'{$key}' has characters that are not allowed");
    }
    return $v;
}

function mdind_bool(array $a, string $key, bool $default): bool {
    if (!array_key_exists($key, $a) || $a[$key] === null) {
        return $default;
    }
    if (!is_bool($a[$key])) {
        throw new mdind_input_exception("'{$key}' must be true or false");
    }
    return $a[$key];
}

function mdind_int(array $a, string $key, int $default, int $min, int $max): int {
    if (!array_key_exists($key, $a) || $a[$key] === null) {
        return $default;
    }
    if (!is_int($a[$key]) || $a[$key] < $min || $a[$key] > $max) {
        throw new mdind_input_exception("'{$key}' must be a whole number from {$min} to {$max}");
    }
    return $a[$key];
}

function mdind_list(array $a, string $key, int $max): array {
    if (!isset($a[$key]) || !is_array($a[$key]) || array_values($a[$key]) !== $a[$key]) {
        throw new mdind_input_exception("'{$key}' must be an array");
    }
    if (count($a[$key]) > $max) {
        throw new mdind_input_exception("'{$key}' has more than {$max} entries");
    }
    return $a[$key];
}

const MDIND_USERNAME = '/^[a-z0-9_.@-]+$/';
const MDIND_CONFIGNAME = '/^[a-zA-Z0-9_]+$/';
const MDIND_PLUGINNAME = '/^[a-z][a-z0-9_]*$/';
const MDIND_COMPONENT = '/^[a-z]+_[a-z0-9_]+$/';
const MDIND_IDNUMBER = '/^[A-Za-z0-9_.:-]+$/';
const MDIND_LINE = '/^[^\x00-\x1f\x7f]+$/u';

function mdind_user_by_username(string $username): stdClass {
    global $DB, $CFG;
    $user = $DB->get_record('user', ['username' => $username, 'mnethostid' => $CFG->mnet_localhost_id, 'deleted' => 0]);
    if (!$user) {
        throw new mdind_input_exception("user '{$username}' does not exist");
    }
    return $user;
}

function mdind_course_by_shortname(string $shortname): stdClass {
    global $DB;
    $course = $DB->get_record('course', ['shortname' => $shortname]);
    if (!$course) {
        throw new mdind_input_exception("course '{$shortname}' does not exist");
    }
    return $course;
}

/** A category by idnumber, else by name (which must then be unique). */
function mdind_find_category(string $ref): ?stdClass {
    global $DB;
    $cat = $DB->get_record('course_categories', ['idnumber' => $ref]);
    if ($cat) {
        return $cat;
    }
    $bynames = $DB->get_records('course_categories', ['name' => $ref]);
    if (count($bynames) > 1) {
        throw new mdind_input_exception("more than one category is named '{$ref}'; refer to it by idnumber");
    }
    return $bynames ? reset($bynames) : null;
}

/** Path of a materialised resource, and whether it is a temporary copy. */
function mdind_resource_file($desc, string $field): string {
    if (!is_array($desc)) {
        throw new mdind_input_exception("'{$field}' must be a resource");
    }
    if (isset($desc['localPath'])) {
        $p = $desc['localPath'];
        if (!is_string($p) || $p === '' || $p[0] !== '/' || strpos($p, "\0") !== false || !is_file($p) || is_link($p)) {
            throw new mdind_input_exception("'{$field}': localPath must be an absolute path to a regular file");
        }
        return $p;
    }
    if (isset($desc['base64']) && is_string($desc['base64'])) {
        $bytes = base64_decode(strtr($desc['base64'], '-_', '+/'), true);
        if ($bytes === false) {
            throw new mdind_input_exception("'{$field}': invalid base64");
        }
    } else if (array_key_exists('literal', $desc)) {
        $bytes = is_string($desc['literal']) ? $desc['literal'] : json_encode($desc['literal']);
    } else {
        $kind = implode(',', array_keys($desc));
        throw new mdind_input_exception("'{$field}': resource of kind '{$kind}' must be materialised by the executor (localPath or base64)");
    }
    $path = make_request_directory() . '/resource';
    file_put_contents($path, $bytes);
    return $path;
}

// ---- steps --------------------------------------------------------------------------------------

function mdind_set_config(array $a): array {
    $name = mdind_str($a, 'name', true, MDIND_CONFIGNAME, 100);
    $plugin = mdind_str($a, 'plugin', false, MDIND_PLUGINNAME, 100);
    $value = array_key_exists('value', $a) ? $a['value'] : '';
    if (is_bool($value)) {
        $value = $value ? '1' : '0';
    } else if (is_int($value) || is_float($value)) {
        $value = (string) $value;
    } else if ($value !== null && !is_string($value)) {
        throw new mdind_input_exception("'value' must be a string, number, boolean or null");
    }
    $label = ($plugin ? $plugin . '/' : '') . $name;
    $current = get_config($plugin ?? 'core', $name);
    if ($value === null) {
        if ($current === false) {
            return [false, "{$label} already unset"];
        }
        unset_config($name, $plugin ?? '');
        return [true, "unset {$label}"];
    }
    if ($current !== false && (string) $current === $value) {
        return [false, "{$label} already set"];
    }
    set_config($name, $value, $plugin);
    return [true, "set {$label}"];
}

function mdind_set_theme(array $a): array {
    $name = mdind_str($a, 'name', true, MDIND_PLUGINNAME, 64);
    $dir = core_component::get_plugin_directory('theme', $name);
    if (!$dir || !is_dir($dir)) {
        throw new mdind_input_exception("theme '{$name}' is not installed");
    }
    if (get_config('core', 'theme') === $name) {
        return [false, "theme already {$name}"];
    }
    set_config('theme', $name);
    theme_reset_all_caches();
    return [true, "theme set to {$name}"];
}

function mdind_set_admin_account(array $a): array {
    global $DB, $CFG;
    require_once($CFG->dirroot . '/user/lib.php');
    $admin = $DB->get_record('user', ['id' => get_admin()->id], '*', MUST_EXIST);
    $update = new stdClass();
    $changed = [];
    $username = mdind_str($a, 'username', false, MDIND_USERNAME, 100);
    if ($username !== null && $username !== $admin->username) {
        if ($DB->record_exists('user', ['username' => $username, 'mnethostid' => $CFG->mnet_localhost_id])) {
            throw new mdind_input_exception("username '{$username}' is taken by another user");
        }
        $update->username = $username;
    }
    $email = mdind_str($a, 'email', false, '', 100);
    if ($email !== null) {
        if (!validate_email($email)) {
            throw new mdind_input_exception("'email' is not a valid address");
        }
        if ($email !== $admin->email) {
            $update->email = $email;
        }
    }
    foreach (['firstname', 'lastname'] as $f) {
        $v = mdind_str($a, $f, false, MDIND_LINE, 100);
        if ($v !== null && $v !== $admin->$f) {
            $update->$f = $v;
        }
    }
    if ((array) $update) {
        $update->id = $admin->id;
        user_update_user($update, false, false);
        $changed = array_merge($changed, array_diff(array_keys((array) $update), ['id']));
    }
    $password = mdind_str($a, 'password', false, '', 256);
    if ($password !== null) {
        $admin = $DB->get_record('user', ['id' => $admin->id], '*', MUST_EXIST);
        if (!validate_internal_user_password($admin, $password)) {
            if (!update_internal_user_password($admin, $password)) {
                throw new moodle_exception('errorpasswordupdate', 'auth');
            }
            $changed[] = 'password';
        }
    }
    return $changed ? [true, 'admin account updated: ' . implode(', ', $changed)] : [false, 'admin account already as requested'];
}

function mdind_create_category(array $a): array {
    global $DB;
    $name = mdind_str($a, 'name', true, MDIND_LINE, 255);
    $idnumber = mdind_str($a, 'idnumber', false, MDIND_IDNUMBER, 100);
    $parentref = mdind_str($a, 'parent', false, MDIND_LINE, 255);
    $parentid = 0;
    if ($parentref !== null) {
        $parent = mdind_find_category($parentref);
        if (!$parent) {
            throw new mdind_input_exception("parent category '{$parentref}' does not exist");
        }
        $parentid = (int) $parent->id;
    }
    if ($idnumber !== null && ($cat = $DB->get_record('course_categories', ['idnumber' => $idnumber]))) {
        return [false, "category {$idnumber} exists (id {$cat->id})"];
    }
    foreach ($DB->get_records('course_categories', ['name' => $name, 'parent' => $parentid]) as $cat) {
        // Same name under the same parent is the same category, unless both carry different idnumbers.
        if ($idnumber === null || (string) $cat->idnumber === '') {
            return [false, "category '{$name}' exists (id {$cat->id})"];
        }
    }
    $data = [
        'name' => $name,
        'parent' => $parentid,
        'description' => isset($a['description']) && is_string($a['description']) ? $a['description'] : '',
        'descriptionformat' => FORMAT_HTML,
    ];
    if ($idnumber !== null) {
        $data['idnumber'] = $idnumber;
    }
    $cat = core_course_category::create($data);
    return [true, "created category '{$name}' (id {$cat->id})"];
}

function mdind_create_course(array $a): array {
    global $DB, $CFG;
    require_once($CFG->dirroot . '/course/lib.php');
    $fullname = mdind_str($a, 'fullname', true, MDIND_LINE, 254);
    $shortname = mdind_str($a, 'shortname', true, MDIND_LINE, 255);
    if ($course = $DB->get_record('course', ['shortname' => $shortname])) {
        return [false, "course {$shortname} exists (id {$course->id})"];
    }
    $catref = mdind_str($a, 'category', false, MDIND_LINE, 255);
    if ($catref !== null) {
        $cat = mdind_find_category($catref);
        if (!$cat) {
            throw new mdind_input_exception("category '{$catref}' does not exist (create it in an earlier step)");
        }
        $catid = (int) $cat->id;
    } else {
        $catid = (int) core_course_category::get_default()->id;
    }
    $format = mdind_str($a, 'format', false, MDIND_PLUGINNAME, 64) ?? 'topics';
    if (!core_component::get_plugin_directory('format', $format)) {
        throw new mdind_input_exception("course format '{$format}' is not installed");
    }
    $data = (object) [
        'fullname' => $fullname,
        'shortname' => $shortname,
        'category' => $catid,
        'summary' => isset($a['summary']) && is_string($a['summary']) ? $a['summary'] : '',
        'summaryformat' => FORMAT_HTML,
        'format' => $format,
        'numsections' => mdind_int($a, 'numsections', 5, 0, 52),
        'visible' => mdind_bool($a, 'visible', true) ? 1 : 0,
    ];
    $idnumber = mdind_str($a, 'idnumber', false, MDIND_IDNUMBER, 100);
    if ($idnumber !== null) {
        if ($DB->record_exists('course', ['idnumber' => $idnumber])) {
            throw new mdind_input_exception("another course already has idnumber '{$idnumber}'");
        }
        $data->idnumber = $idnumber;
    }
    $course = create_course($data);
    return [true, "created course {$shortname} (id {$course->id})"];
}

function mdind_create_user(array $a): array {
    global $DB, $CFG;
    require_once($CFG->dirroot . '/user/lib.php');
    $username = mdind_str($a, 'username', true, MDIND_USERNAME, 100);
    if ($user = $DB->get_record('user', ['username' => $username, 'mnethostid' => $CFG->mnet_localhost_id])) {
        return [false, "user {$username} exists (id {$user->id})"];
    }
    $auth = mdind_str($a, 'auth', false, '/^(manual|nologin)$/', 20) ?? 'manual';
    $email = mdind_str($a, 'email', false, '', 100) ?? ($username . '@example.com');
    if (!validate_email($email)) {
        throw new mdind_input_exception("'email' is not a valid address");
    }
    $user = (object) [
        'username' => $username,
        'auth' => $auth,
        'confirmed' => 1,
        'mnethostid' => $CFG->mnet_localhost_id,
        'email' => $email,
        'firstname' => mdind_str($a, 'firstname', false, MDIND_LINE, 100) ?? $username,
        'lastname' => mdind_str($a, 'lastname', false, MDIND_LINE, 100) ?? 'User',
        'suspended' => mdind_bool($a, 'suspended', false) ? 1 : 0,
    ];
    foreach (['idnumber' => MDIND_IDNUMBER, 'city' => MDIND_LINE, 'lang' => MDIND_PLUGINNAME] as $f => $re) {
        $v = mdind_str($a, $f, false, $re, 120);
        if ($v !== null) {
            $user->$f = $v;
        }
    }
    $country = mdind_str($a, 'country', false, '/^[A-Z]{2}$/', 2);
    if ($country !== null) {
        $user->country = $country;
    }
    // No password given: a random one, not a well-known default. A given one is set even when it fails the
    // site's password policy (Playground's examples use "password"), and the result says so.
    $password = mdind_str($a, 'password', false, '', 256);
    $plain = $password ?? generate_password(20);
    $policy = '';
    $weak = $password !== null && !check_password_policy($plain, $policy);
    $id = user_create_user($user, false, false);
    update_internal_user_password($DB->get_record('user', ['id' => $id], '*', MUST_EXIST), $plain);
    return [true, "created user {$username} (id {$id})" . ($password === null ? ', random password' :
        ($weak ? ", password set although it fails the site's password policy" : ''))];
}

function mdind_enrol_user(array $a): array {
    global $DB, $CFG;
    require_once($CFG->libdir . '/enrollib.php');
    $user = mdind_user_by_username(mdind_str($a, 'username', true, MDIND_USERNAME, 100));
    $course = mdind_course_by_shortname(mdind_str($a, 'course', true, MDIND_LINE, 255));
    $roleshortname = mdind_str($a, 'role', false, MDIND_PLUGINNAME, 100) ?? 'student';
    $role = $DB->get_record('role', ['shortname' => $roleshortname]);
    if (!$role) {
        throw new mdind_input_exception("role '{$roleshortname}' does not exist");
    }
    $plugin = enrol_get_plugin('manual');
    if (!$plugin) {
        throw new mdind_input_exception('the manual enrolment plugin is not available');
    }
    $instance = $DB->get_record('enrol', ['courseid' => $course->id, 'enrol' => 'manual'], '*', IGNORE_MULTIPLE);
    if (!$instance) {
        $instanceid = $plugin->add_default_instance($course);
        if (!$instanceid) {
            $instanceid = $plugin->add_instance($course);
        }
        $instance = $DB->get_record('enrol', ['id' => $instanceid], '*', MUST_EXIST);
    }
    $context = context_course::instance($course->id);
    $enrolled = $DB->record_exists('user_enrolments', ['enrolid' => $instance->id, 'userid' => $user->id]);
    if ($enrolled && user_has_role_assignment($user->id, $role->id, $context->id)) {
        return [false, "{$user->username} already enrolled in {$course->shortname} as {$roleshortname}"];
    }
    // enrol_user on an existing enrolment only adds the missing role; it never duplicates the enrolment.
    $plugin->enrol_user($instance, $user->id, $role->id);
    return [true, "enrolled {$user->username} in {$course->shortname} as {$roleshortname}"];
}

function mdind_create_cohort(array $a): array {
    global $DB, $CFG;
    require_once($CFG->dirroot . '/cohort/lib.php');
    $name = mdind_str($a, 'name', true, MDIND_LINE, 254);
    $idnumber = mdind_str($a, 'idnumber', false, MDIND_IDNUMBER, 100);
    $context = context_system::instance();
    $changed = [];
    if ($idnumber !== null) {
        $cohort = $DB->get_record('cohort', ['idnumber' => $idnumber]);
    } else {
        $cohort = $DB->get_record('cohort', ['contextid' => $context->id, 'name' => $name], '*', IGNORE_MULTIPLE);
    }
    if ($cohort) {
        $cohortid = (int) $cohort->id;
    } else {
        $cohortid = cohort_add_cohort((object) [
            'contextid' => $context->id,
            'name' => $name,
            'idnumber' => $idnumber ?? '',
            'description' => isset($a['description']) && is_string($a['description']) ? $a['description'] : '',
            'descriptionformat' => FORMAT_HTML,
            'visible' => mdind_bool($a, 'visible', true) ? 1 : 0,
        ]);
        $changed[] = "created cohort '{$name}' (id {$cohortid})";
    }
    $added = 0;
    $members = isset($a['members']) ? mdind_list($a, 'members', 5000) : [];
    foreach ($members as $i => $username) {
        if (!is_string($username) || !preg_match(MDIND_USERNAME, $username)) {
            throw new mdind_input_exception("'members[{$i}]' is not a username");
        }
        $user = mdind_user_by_username($username);
        if (!cohort_is_member($cohortid, $user->id)) {
            cohort_add_member($cohortid, $user->id);
            $added++;
        }
    }
    if ($added) {
        $changed[] = "added {$added} member(s)";
    }
    return $changed ? [true, implode(', ', $changed)] : [false, "cohort '{$name}' exists with its members"];
}

function mdind_restore_course(array $a): array {
    global $DB, $CFG, $USER;
    require_once($CFG->dirroot . '/backup/util/includes/restore_includes.php');
    require_once($CFG->dirroot . '/course/lib.php');
    $file = mdind_resource_file(isset($a['data']) ? $a['data'] : null, 'data');
    $backupid = 'mdind_' . sha1(random_bytes(16));
    $tempdir = make_backup_temp_directory($backupid);
    try {
        $packer = get_file_packer('application/vnd.moodle.backup');
        if (!$packer->extract_to_pathname($file, $tempdir)) {
            throw new mdind_input_exception("'data' is not a Moodle course backup (.mbz)");
        }
        $info = backup_general_helper::get_backup_information($backupid);
        if ($info->type !== backup::TYPE_1COURSE) {
            throw new mdind_input_exception("'data' is a {$info->type} backup, not a course backup");
        }
        $shortname = mdind_str($a, 'shortname', false, MDIND_LINE, 255) ?? $info->original_course_shortname;
        $fullname = mdind_str($a, 'fullname', false, MDIND_LINE, 254) ?? $info->original_course_fullname;
        if ($course = $DB->get_record('course', ['shortname' => $shortname])) {
            return [false, "course {$shortname} exists (id {$course->id})"];
        }
        $catref = mdind_str($a, 'category', false, MDIND_LINE, 255);
        if ($catref === null) {
            $catid = (int) core_course_category::get_default()->id;
        } else if ($cat = mdind_find_category($catref)) {
            $catid = (int) $cat->id;
        } else if (mdind_bool($a, 'createCategory', true)) {
            $catid = (int) core_course_category::create(['name' => $catref, 'parent' => 0])->id;
        } else {
            throw new mdind_input_exception("category '{$catref}' does not exist");
        }

        $courseid = restore_dbops::create_new_course($fullname, $shortname, $catid);
        try {
            $rc = new restore_controller($backupid, $courseid, backup::INTERACTIVE_NO, backup::MODE_GENERAL,
                $USER->id, backup::TARGET_NEW_COURSE);
            try {
                $plan = $rc->get_plan();
                foreach (['course_fullname' => $fullname, 'course_shortname' => $shortname] as $setting => $value) {
                    if ($plan->setting_exists($setting)) {
                        $plan->get_setting($setting)->set_value($value);
                    }
                }
                if (!$rc->execute_precheck()) {
                    $results = $rc->get_precheck_results();
                    if (!empty($results['errors'])) {
                        throw new mdind_input_exception('restore precheck failed: ' . implode('; ', $results['errors']));
                    }
                }
                $rc->execute_plan();
            } finally {
                $rc->destroy();
            }
        } catch (\Throwable $e) {
            // Leave no half-restored course behind: a rerun would otherwise take it for a finished one.
            delete_course($courseid, false);
            throw $e;
        }
        $fix = ['id' => $courseid, 'shortname' => $shortname, 'fullname' => $fullname];
        if (array_key_exists('visible', $a) && $a['visible'] !== null) {
            $fix['visible'] = mdind_bool($a, 'visible', true) ? 1 : 0;
        }
        $DB->update_record('course', (object) $fix);
        rebuild_course_cache($courseid, true);
        return [true, "restored course {$shortname} (id {$courseid})"];
    } finally {
        fulldelete($tempdir);
    }
}

function mdind_check_plugin(array $a, ?string $type): array {
    $component = mdind_str($a, 'component', false, MDIND_COMPONENT, 100);
    if ($component === null) {
        $ptype = $type ?? mdind_str($a, 'pluginType', false, MDIND_PLUGINNAME, 30);
        $pname = mdind_str($a, 'pluginName', false, MDIND_PLUGINNAME, 64);
        if ($ptype === null || $pname === null) {
            throw new mdind_input_exception('the executor must pass the installed component (or pluginType and pluginName)');
        }
        $component = $ptype . '_' . $pname;
    }
    $info = core_plugin_manager::instance()->get_plugin_info($component);
    if (!$info) {
        throw new mdind_input_exception("{$component} is not in the code tree");
    }
    $status = $info->get_status();
    if ($status !== core_plugin_manager::PLUGIN_STATUS_UPTODATE) {
        throw new mdind_input_exception("{$component} is present but not installed ({$status}); run admin/cli/upgrade.php --non-interactive");
    }
    return [false, "{$component} installed (version {$info->versiondb})"];
}

function mdind_install_moodle(array $a): array {
    global $DB;
    $o = isset($a['options']) && is_array($a['options']) ? $a['options'] : [];
    $done = [];
    $sitename = mdind_str($o, 'siteName', false, MDIND_LINE, 254);
    if ($sitename !== null) {
        $site = get_site();
        if ($site->fullname !== $sitename) {
            $DB->update_record('course', (object) ['id' => $site->id, 'fullname' => $sitename]);
            rebuild_course_cache($site->id, true);
            $done[] = 'site name';
        }
    }
    $timezone = mdind_str($o, 'timezone', false, '/^[A-Za-z0-9_+\/-]+$/', 100);
    if ($timezone !== null) {
        if (!array_key_exists($timezone, core_date::get_list_of_timezones(null, true)) && $timezone !== 'UTC') {
            throw new mdind_input_exception("timezone '{$timezone}' is not one Moodle knows");
        }
        if ((string) get_config('core', 'timezone') !== $timezone) {
            set_config('timezone', $timezone);
            $done[] = 'timezone';
        }
    }
    $locale = mdind_str($o, 'locale', false, MDIND_PLUGINNAME, 30);
    if ($locale !== null) {
        if (!get_string_manager()->translation_exists($locale, false)) {
            throw new mdind_input_exception("language pack '{$locale}' is not installed (moodle-dind does not download language packs)");
        }
        if ((string) get_config('core', 'lang') !== $locale) {
            set_config('lang', $locale);
            $done[] = 'default language';
        }
    }
    return $done ? [true, 'site already installed; set ' . implode(', ', $done)] : [false, 'site already installed with these settings'];
}

function mdind_create_section(array $a): array {
    global $DB, $CFG;
    require_once($CFG->dirroot . '/course/lib.php');
    $course = mdind_course_by_shortname(mdind_str($a, 'course', true, MDIND_LINE, 255));
    $name = mdind_str($a, 'name', false, MDIND_LINE, 255);
    $position = mdind_int($a, 'position', 0, 0, 100);
    // Idempotency needs a key: a named section is matched by name; an unnamed one cannot be told apart from
    // the course's own sections, so it is made only while the course has fewer than `position` sections.
    if ($name !== null) {
        $existing = $DB->get_record('course_sections', ['course' => $course->id, 'name' => $name], '*', IGNORE_MULTIPLE);
        if ($existing) {
            return [false, "section '{$name}' exists in {$course->shortname} (section {$existing->section})"];
        }
    } else if ($position > 0 && $DB->record_exists('course_sections', ['course' => $course->id, 'section' => $position])) {
        return [false, "{$course->shortname} already has section {$position}"];
    }
    $section = course_create_section($course->id, $position);
    $update = [];
    if ($name !== null) {
        $update['name'] = $name;
    }
    if (isset($a['summary']) && is_string($a['summary'])) {
        $update['summary'] = $a['summary'];
        $update['summaryformat'] = FORMAT_HTML;
    }
    if (array_key_exists('visible', $a) && $a['visible'] !== null) {
        $update['visible'] = mdind_bool($a, 'visible', true) ? 1 : 0;
    }
    if ($update) {
        course_update_section($course->id, $section, $update);
    }
    return [true, "added section {$section->section}" . ($name !== null ? " '{$name}'" : '') . " to {$course->shortname}"];
}

// ---- roles ------------------------------------------------------------------------------------------

const MDIND_CONTEXTLEVELS = ['system' => 10, 'user' => 30, 'coursecat' => 40, 'category' => 40, 'course' => 50, 'module' => 70, 'block' => 80];
const MDIND_PERMISSIONS = ['allow' => 1, 'prevent' => -1, 'prohibit' => -1000, 'inherit' => 0];
const MDIND_ROLE_RELATIONS = [
    'allowassign' => ['role_allow_assign', 'core_role_set_assign_allowed'],
    'allowoverride' => ['role_allow_override', 'core_role_set_override_allowed'],
    'allowswitch' => ['role_allow_switch', 'core_role_set_switch_allowed'],
    'allowview' => ['role_allow_view', 'core_role_set_view_allowed'],
];

function mdind_role_id(string $shortname): int {
    global $DB;
    $id = $DB->get_field('role', 'id', ['shortname' => $shortname]);
    if (!$id) {
        throw new mdind_input_exception("role '{$shortname}' does not exist");
    }
    return (int) $id;
}

/**
 * Create a role or bring an existing one (same shortname) to the given definition, changing only what
 * differs. $caps: capability => permission (ints); null leaves the role's capabilities as they are.
 * $exact: the role has exactly $caps at system level (a preset), not just these among others.
 * Returns [changed, notes].
 */
function mdind_apply_role(string $shortname, string $name, string $description, string $archetype, ?array $levels,
        ?array $caps, bool $exact, array $relations, bool $reset): array {
    global $DB;
    $changed = [];
    $notes = [];
    $system = context_system::instance();
    if ($archetype !== '' && !array_key_exists($archetype, get_role_archetypes())) {
        throw new mdind_input_exception("archetype '{$archetype}' is not a Moodle role archetype");
    }
    $role = $DB->get_record('role', ['shortname' => $shortname]);
    $created = false;
    if (!$role) {
        $roleid = (int) create_role($name, $shortname, $description, $archetype);
        $created = true;
        $changed[] = 'created';
    } else {
        $roleid = (int) $role->id;
        if ($role->name !== $name || (string) $role->description !== $description || (string) $role->archetype !== $archetype) {
            $DB->update_record('role', (object) ['id' => $roleid, 'name' => $name, 'description' => $description, 'archetype' => $archetype]);
            $changed[] = 'name/description/archetype';
        }
    }
    // A new role starts from its archetype's defaults, as "Add a new role" with an archetype does in the UI.
    if (($created || $reset) && $archetype !== '') {
        reset_role_capabilities($roleid);
        if ($levels === null) {
            $levels = array_values(get_default_contextlevels($archetype));
        }
    }
    if ($levels !== null) {
        $want = array_values(array_unique(array_map('intval', $levels)));
        sort($want);
        $have = array_values(array_map('intval', get_role_contextlevels($roleid)));
        sort($have);
        if ($want !== $have) {
            set_role_contextlevels($roleid, $want);
            $changed[] = 'context levels';
        }
    }
    if ($caps !== null) {
        $have = $DB->get_records_menu('role_capabilities', ['roleid' => $roleid, 'contextid' => $system->id], '', 'capability, permission');
        $want = [];
        foreach ($caps as $cap => $perm) {
            if (!get_capability_info($cap)) {
                $notes[] = "capability {$cap} is not on this site, skipped";
                continue;
            }
            $want[$cap] = (int) $perm;
        }
        $capchanged = false;
        foreach ($want as $cap => $perm) {
            $current = array_key_exists($cap, $have) ? (int) $have[$cap] : CAP_INHERIT;
            if ($perm === CAP_INHERIT) {
                if ($current !== CAP_INHERIT) {
                    unassign_capability($cap, $roleid, $system->id);
                    $capchanged = true;
                }
            } else if ($current !== $perm) {
                assign_capability($cap, $perm, $roleid, $system->id, true);
                $capchanged = true;
            }
        }
        if ($exact) {
            foreach ($have as $cap => $perm) {
                if (!array_key_exists($cap, $want)) {
                    unassign_capability($cap, $roleid, $system->id);
                    $capchanged = true;
                }
            }
        }
        if ($capchanged) {
            $changed[] = 'capabilities';
        }
    }
    foreach ($relations as $key => $targets) {
        if ($targets === null) {
            continue;
        }
        list($table, $helper) = MDIND_ROLE_RELATIONS[$key];
        $field = $key;
        $want = [];
        foreach ($targets as $t) {
            $want[] = $t === -1 ? $roleid : (int) $t;
        }
        $want = array_values(array_unique($want));
        sort($want);
        $have = array_values(array_map('intval', $DB->get_fieldset_select($table, $field, 'roleid = ?', [$roleid])));
        sort($have);
        if ($want !== $have) {
            $DB->delete_records($table, ['roleid' => $roleid]);
            foreach ($want as $t) {
                $helper($roleid, $t);
            }
            $changed[] = $key;
        }
    }
    if ($changed) {
        accesslib_clear_role_cache($roleid);
    }
    return [$changed, $notes];
}

function mdind_role_report(string $shortname, array $r): array {
    list($changed, $notes) = $r;
    $tail = $notes ? ' (' . implode('; ', $notes) . ')' : '';
    return $changed ? [true, "role {$shortname}: " . implode(', ', $changed) . $tail] : [false, "role {$shortname} already as defined{$tail}"];
}

function mdind_create_role(array $a): array {
    $shortname = mdind_str($a, 'shortname', true, MDIND_PLUGINNAME, 100);
    $name = mdind_str($a, 'name', false, MDIND_LINE, 255) ?? $shortname;
    $description = isset($a['description']) && is_string($a['description']) ? $a['description'] : '';
    $archetype = mdind_str($a, 'archetype', false, '/^[a-z]*$/', 30) ?? '';
    $levels = null;
    if (isset($a['contextlevels'])) {
        $levels = [];
        foreach (mdind_list($a, 'contextlevels', 10) as $l) {
            if (is_int($l) && in_array($l, MDIND_CONTEXTLEVELS, true)) {
                $levels[] = $l;
            } else if (is_string($l) && isset(MDIND_CONTEXTLEVELS[$l])) {
                $levels[] = MDIND_CONTEXTLEVELS[$l];
            } else {
                throw new mdind_input_exception("'contextlevels': " . json_encode($l) . ' is not a context level');
            }
        }
    }
    $caps = null;
    if (isset($a['capabilities'])) {
        if (!is_array($a['capabilities'])) {
            throw new mdind_input_exception("'capabilities' must be an object of capability => allow|prevent|prohibit|inherit");
        }
        $caps = [];
        foreach ($a['capabilities'] as $cap => $perm) {
            if (!is_string($perm) || !isset(MDIND_PERMISSIONS[$perm]) || !preg_match('~^[a-z0-9_]+/[a-z0-9_]+:[a-z0-9_]+$~', (string) $cap)) {
                throw new mdind_input_exception("'capabilities.{$cap}' must be allow, prevent, prohibit or inherit");
            }
            $caps[$cap] = MDIND_PERMISSIONS[$perm];
        }
    }
    $relations = [];
    foreach (['allowAssign' => 'allowassign', 'allowOverride' => 'allowoverride', 'allowSwitch' => 'allowswitch', 'allowView' => 'allowview'] as $in => $key) {
        if (!isset($a[$in])) {
            $relations[$key] = null;
            continue;
        }
        $relations[$key] = [];
        foreach (mdind_list($a, $in, 100) as $t) {
            if (!is_string($t) || !preg_match(MDIND_PLUGINNAME, $t)) {
                throw new mdind_input_exception("'{$in}' must list role shortnames");
            }
            $relations[$key][] = $t === $shortname ? -1 : mdind_role_id($t);
        }
    }
    $r = mdind_apply_role($shortname, $name, $description, $archetype, $levels, $caps, false, $relations, mdind_bool($a, 'resetToArchetype', false));
    return mdind_role_report($shortname, $r);
}

function mdind_create_roles(array $a): array {
    $data = isset($a['data']) ? json_decode(file_get_contents(mdind_resource_file($a['data'], 'data')), true) : $a['roles'];
    if (is_array($data) && isset($data['roles'])) {
        $data = $data['roles'];
    }
    if (!is_array($data) || array_values($data) !== $data) {
        throw new mdind_input_exception("'roles' must be a list of role definitions");
    }
    return mdind_batch(['roles' => $data], 'roles', 200, 'mdind_create_role', 'roles');
}

/** Moodle role preset XML (Define roles > Export), read by Moodle's own core_role_preset. */
function mdind_import_roles(array $a): array {
    $presets = [];
    foreach (mdind_list($a, 'roles', 200) as $i => $desc) {
        $xml = file_get_contents(mdind_resource_file($desc, "roles[{$i}]"));
        if (!core_role_preset::is_valid_preset($xml)) {
            throw new mdind_input_exception("roles[{$i}] is not Moodle role preset XML (it does not validate against admin/roles/role_schema.xml)");
        }
        $info = core_role_preset::parse_preset($xml);
        if (empty($info['shortname'])) {
            throw new mdind_input_exception("roles[{$i}]: the preset has no shortname");
        }
        $presets[$info['shortname']] = $xml;
    }
    // Two passes: every role exists before any allow* relation between them is read (parse_preset maps shortnames to ids).
    $changed = 0;
    $details = [];
    foreach ([false, true] as $second) {
        foreach ($presets as $shortname => $xml) {
            $info = core_role_preset::parse_preset($xml);
            $name = (string) ($info['name'] ?? $shortname);
            $description = (string) ($info['description'] ?? '');
            $archetype = (string) ($info['archetype'] ?? '');
            if (!$second) {
                $r = mdind_apply_role($shortname, $name, $description, $archetype, null, null, false, [], false);
            } else {
                $rel = [];
                foreach (array_keys(MDIND_ROLE_RELATIONS) as $key) {
                    $rel[$key] = $info[$key] ?? null;
                }
                $levels = isset($info['contextlevels']) ? array_values($info['contextlevels']) : null;
                $r = mdind_apply_role($shortname, $name, $description, $archetype, $levels, $info['permissions'] ?? [], true, $rel, false);
            }
            if ($r[0]) {
                $changed++;
            }
            if ($second) {
                $details[] = mdind_role_report($shortname, $r)[1];
            }
        }
    }
    return [$changed > 0, implode('; ', $details)];
}

// ---- scales -----------------------------------------------------------------------------------------

function mdind_create_scale(array $a): array {
    global $DB, $CFG;
    require_once($CFG->libdir . '/gradelib.php');
    $name = mdind_str($a, 'name', true, MDIND_LINE, 255);
    $items = isset($a['items']) ? $a['items'] : null;
    if (is_string($items)) {
        $items = explode(',', $items);
    }
    if (!is_array($items)) {
        throw new mdind_input_exception("'items' must be a list or a comma-separated string");
    }
    $items = array_values(array_filter(array_map(function ($x) {
        return trim((string) $x);
    }, $items), 'strlen'));
    if (!$items) {
        throw new mdind_input_exception("'items' is empty");
    }
    $scaletext = implode(',', $items);
    $courseid = 0;
    $courseref = mdind_str($a, 'course', false, MDIND_LINE, 255);
    if ($courseref !== null) {
        $courseid = (int) mdind_course_by_shortname($courseref)->id;
    }
    $description = isset($a['description']) && is_string($a['description']) ? $a['description'] : '';
    $where = $courseid ? "course {$courseref}" : 'site';
    $existing = $DB->get_record('scale', ['courseid' => $courseid, 'name' => $name], '*', IGNORE_MULTIPLE);
    $norm = function ($s) {
        return implode(',', array_map('trim', explode(',', (string) $s)));
    };
    if ($existing) {
        if ($norm($existing->scale) === $scaletext && (!isset($a['description']) || (string) $existing->description === $description)) {
            return [false, "scale '{$name}' ({$where}) already as defined"];
        }
        $scale = new grade_scale(['id' => $existing->id]);
        if ($norm($existing->scale) !== $scaletext && $scale->is_used()) {
            throw new mdind_input_exception("scale '{$name}' ({$where}) is in use by grades; its items cannot be changed");
        }
        $scale->scale = $scaletext;
        if (isset($a['description'])) {
            $scale->description = $description;
        }
        $scale->update('mdind_blueprint');
        return [true, "updated scale '{$name}' ({$where})"];
    }
    $scale = new grade_scale();
    $scale->courseid = $courseid;
    $scale->userid = (int) get_admin()->id;
    $scale->name = $name;
    $scale->scale = $scaletext;
    $scale->description = $description;
    $scale->descriptionformat = FORMAT_HTML;
    $id = $scale->insert('mdind_blueprint');
    return [true, "created scale '{$name}' ({$where}, id {$id})"];
}

function mdind_create_scales(array $a): array {
    $data = isset($a['data']) ? json_decode(file_get_contents(mdind_resource_file($a['data'], 'data')), true) : $a['scales'];
    if (is_array($data) && isset($data['scales'])) {
        $data = $data['scales'];
    }
    if (!is_array($data) || array_values($data) !== $data) {
        throw new mdind_input_exception("'scales' must be a list of scales or a moodle-scale-export object");
    }
    return mdind_batch(['scales' => $data], 'scales', 500, 'mdind_create_scale', 'scales');
}

// ---- activity modules -------------------------------------------------------------------------------

/** Fields every module takes through add_moduleinfo (course module settings, grading, completion). */
const MDIND_MODULE_COMMON_FIELDS = ['introformat', 'groupmode', 'groupingid', 'completion', 'completionview', 'completionexpected',
    'completionpassgrade', 'completiongradeitemnumber', 'availability', 'showdescription', 'visibleoncoursepage', 'lang', 'tags',
    'cmidnumber', 'grade', 'gradecat', 'gradepass', 'downloadcontent', 'indent', 'score'];
/** Form fields some modules take that are not columns of their table (display options, quiz review matrix, choice options). */
const MDIND_MODULE_FORM_FIELDS = [
    'page' => ['printheading', 'printintro', 'printlastmodified', 'popupwidth', 'popupheight'],
    'resource' => ['printintro', 'showsize', 'showtype', 'showdate', 'popupwidth', 'popupheight', 'defaultfilename', 'uploaded'],
    'url' => ['printintro', 'popupwidth', 'popupheight'],
    'folder' => [],
    'quiz' => ['quizpassword', 'feedbacktext', 'feedbackboundaries'],
    'choice' => ['option', 'limit'],
    'h5pactivity' => ['packagefile'],
    'lesson' => ['mediafile'],
];
const MDIND_QUIZ_REVIEW = '/^(attempt|correctness|maxmarks|marks|specificfeedback|generalfeedback|rightanswer|overallfeedback)(during|immediately|open|closed)$/';

/** Does module $module take field $field? Its table's columns, the common fields, its known form fields and its subplugins' settings. */
function mdind_module_has_field(string $module, string $field, array $columns): bool {
    if (isset($columns[$field]) && $field !== 'id' && $field !== 'course') {
        return true;
    }
    if (in_array($field, MDIND_MODULE_COMMON_FIELDS, true) || in_array($field, MDIND_MODULE_FORM_FIELDS[$module] ?? [], true)) {
        return true;
    }
    if ($module === 'quiz' && preg_match(MDIND_QUIZ_REVIEW, $field)) {
        return true;
    }
    foreach (array_keys(core_component::get_subplugins('mod_' . $module) ?? []) as $subtype) {
        if (strpos($field, $subtype . '_') === 0) {
            return true;
        }
    }
    return false;
}

/** The module's files from the blueprint: into a draft area for the form field that takes one, else straight into the module's area. */
function mdind_module_draft(array $files): int {
    global $USER;
    $fs = get_file_storage();
    $draft = file_get_unused_draft_itemid();
    $ctx = context_user::instance($USER->id);
    foreach ($files as $f) {
        $fs->create_file_from_pathname(['contextid' => $ctx->id, 'component' => 'user', 'filearea' => 'draft', 'itemid' => $draft,
            'filepath' => $f['filepath'], 'filename' => $f['filename']], $f['path']);
    }
    return $draft;
}

function mdind_add_module(array $a): array {
    global $DB, $CFG;
    require_once($CFG->dirroot . '/course/lib.php');
    require_once($CFG->dirroot . '/course/modlib.php');
    require_once($CFG->libdir . '/testing/generator/lib.php');
    $module = mdind_str($a, 'module', true, MDIND_PLUGINNAME, 64);
    $course = mdind_course_by_shortname(mdind_str($a, 'course', true, MDIND_LINE, 255));
    $mod = $DB->get_record('modules', ['name' => $module]);
    if (!$mod || !core_component::get_component_directory('mod_' . $module)) {
        $installed = implode(', ', $DB->get_fieldset_select('modules', 'name', 'visible = 1 ORDER BY name'));
        throw new mdind_input_exception("addModule: activity module '{$module}' is not installed on this site (installed: {$installed})");
    }
    if (!$mod->visible) {
        throw new mdind_input_exception("addModule: activity module '{$module}' is disabled on this site");
    }
    $section = mdind_int($a, 'section', 0, 0, 100);
    $idnumber = mdind_str($a, 'idnumber', false, MDIND_IDNUMBER, 100);
    $name = mdind_str($a, 'name', false, MDIND_LINE, 255);
    $intro = isset($a['intro']) && is_string($a['intro']) ? $a['intro'] : '';
    $columns = $DB->get_columns($module);

    $record = ['course' => $course->id, 'section' => $section, 'intro' => $intro, 'introformat' => FORMAT_HTML];
    foreach ($a as $k => $v) {
        if (in_array($k, ['module', 'course', 'section', 'name', 'intro', 'visible', 'idnumber', 'files'], true)) {
            continue;
        }
        if (!mdind_module_has_field($module, $k, $columns)) {
            throw new mdind_input_exception("addModule: module '{$module}' has no field '{$k}'");
        }
        $record[$k] = $v;
    }
    // Playground's quiz 'password' is the form's 'quizpassword' (quiz_process_options copies it over 'password').
    if ($module === 'quiz' && array_key_exists('password', $record) && !array_key_exists('quizpassword', $record)) {
        $record['quizpassword'] = (string) $record['password'];
    }
    if ($name !== null) {
        $record['name'] = $name;
    } else if ($module !== 'label') {
        $record['name'] = get_string('modulename', $module);
    }
    if ($module === 'label' && $name === null && trim($intro) === '') {
        throw new mdind_input_exception("addModule: a label needs a name or an intro");
    }

    // Idempotency: the same idnumber in the course; else, in the same section, a label with the same
    // text (or name) and any other module with the same name.
    $modinfo = get_fast_modinfo($course);
    foreach ($modinfo->get_instances_of($module) as $cm) {
        if ($idnumber !== null) {
            if ((string) $cm->idnumber === $idnumber) {
                return [false, "{$module} {$idnumber} exists in {$course->shortname} (cmid {$cm->id})"];
            }
            continue;
        }
        if ((int) $cm->sectionnum !== $section) {
            continue;
        }
        if ($module === 'label') {
            $row = $DB->get_record('label', ['id' => $cm->instance], 'name, intro');
            if ($intro !== '' ? $row->intro === $intro : $row->name === $name) {
                return [false, "label exists in {$course->shortname} section {$section} (cmid {$cm->id})"];
            }
        } else if ($cm->name === $record['name']) {
            return [false, "{$module} '{$record['name']}' exists in {$course->shortname} section {$section} (cmid {$cm->id})"];
        }
    }

    $files = [];
    foreach (isset($a['files']) ? mdind_list($a, 'files', 100) : [] as $i => $f) {
        $fn = mdind_str($f, 'filename', true, '/^[^\/\\\\\x00-\x1f]+$/', 255);
        $files[] = [
            'filename' => $fn,
            'filearea' => mdind_str($f, 'filearea', false, MDIND_PLUGINNAME, 50) ?? ($module === 'h5pactivity' ? 'package' : 'content'),
            'itemid' => mdind_int($f, 'itemid', 0, 0, 1000000),
            'filepath' => mdind_str($f, 'filepath', false, '~^/([^\x00-\x1f\\\\]*/)?$~', 255) ?? '/',
            'path' => mdind_resource_file($f['data'] ?? null, "files[{$i}].data"),
        ];
    }
    // Modules whose form takes files through a draft area get them that way (so Moodle sets their main file).
    $draftfield = ['resource' => ['content', 'files'], 'folder' => ['content', 'files'], 'h5pactivity' => ['package', 'packagefile']];
    $later = [];
    if (isset($draftfield[$module])) {
        list($area, $field) = $draftfield[$module];
        $mine = array_values(array_filter($files, function ($f) use ($area) {
            return $f['filearea'] === $area;
        }));
        if ($mine) {
            $record[$field] = mdind_module_draft($mine);
        }
        $later = array_values(array_filter($files, function ($f) use ($area) {
            return $f['filearea'] !== $area;
        }));
    } else {
        $later = $files;
    }

    $options = ['section' => $section, 'visible' => array_key_exists('visible', $a) && $a['visible'] !== null ? (int) (bool) $a['visible'] : 1];
    if ($idnumber !== null) {
        $options['idnumber'] = $idnumber;
    }
    $cmid = mdind_create_module($module, $record, $options, $intro);
    if ($later) {
        $fs = get_file_storage();
        $ctx = context_module::instance($cmid);
        foreach ($later as $f) {
            $fs->create_file_from_pathname(['contextid' => $ctx->id, 'component' => 'mod_' . $module, 'filearea' => $f['filearea'],
                'itemid' => $f['itemid'], 'filepath' => $f['filepath'], 'filename' => $f['filename']], $f['path']);
        }
    }
    $label = $name ?? ($module === 'label' ? 'label' : $record['name']);
    return [true, "added {$module} '{$label}' to {$course->shortname} section {$section} (cmid {$cmid})"];
}

/**
 * The course module id of a new $module instance. Through the module's test generator when it has
 * one (its defaults for the module's own fields); else, as many third-party modules ship none,
 * through Moodle's own create_module() with the defaults the generator would have set.
 */
function mdind_create_module(string $module, array $record, array $options, string $intro): int {
    if (is_readable(core_component::get_component_directory('mod_' . $module) . '/tests/generator/lib.php')) {
        $generator = new testing_data_generator();
        return (int) $generator->create_module($module, (object) $record, $options)->cmid;
    }
    $info = (object) array_merge(['visibleoncoursepage' => 1, 'groupmode' => 0, 'groupingid' => 0, 'availability' => null,
        'completion' => 0, 'completionview' => 0, 'completionexpected' => 0, 'completionpassgrade' => 0], $record);
    $info->modulename = $module;
    $info->section = $options['section'];
    $info->visible = $options['visible'];
    $info->cmidnumber = $options['idnumber'] ?? '';
    $info->introeditor = ['text' => $intro, 'format' => FORMAT_HTML, 'itemid' => file_get_unused_draft_itemid()];
    return (int) create_module($info)->coursemodule;
}

function mdind_purge_caches(): array {
    purge_all_caches();
    // Purging is an action, not a state: it leaves the site as it was, so it never counts as a change.
    return [false, 'caches purged'];
}

// ---- unsafe steps: only ever sent when the operator allowed them (policy.allowUnsafe) --------------

function mdind_run_php_code(array $a): array {
    $code = mdind_str($a, 'code', true, '', 1024 * 1024);
    $code = preg_replace('/^\s*<\?php\b/', '', $code);
    ob_start();
    try {
        eval($code);
    } finally {
        $out = (string) ob_get_clean();
    }
    return [true, substr(trim($out), 0, 4000)];
}

// ---- dispatch -----------------------------------------------------------------------------------

function mdind_batch(array $a, string $field, int $max, callable $one, string $what): array {
    $items = mdind_list($a, $field, $max);
    $changed = 0;
    foreach ($items as $i => $item) {
        if (!is_array($item)) {
            throw new mdind_input_exception("'{$field}[{$i}]' must be an object");
        }
        try {
            list($c) = $one($item);
        } catch (mdind_input_exception $e) {
            throw new mdind_input_exception("{$field}[{$i}]: " . $e->getMessage());
        }
        if ($c) {
            $changed++;
        }
    }
    return [$changed > 0, "{$changed} of " . count($items) . " {$what} changed"];
}

$mdindname = $mdindstep['step'];
$mdindargs = $mdindstep;
unset($mdindargs['step'], $mdindargs['critical']);

try {
    switch ($mdindname) {
        case 'setConfig':
            $mdindresult = mdind_set_config($mdindargs);
            break;
        case 'setConfigs':
            $mdindresult = mdind_batch($mdindargs, 'configs', 500, 'mdind_set_config', 'settings');
            break;
        case 'setTheme':
            $mdindresult = mdind_set_theme($mdindargs);
            break;
        case 'setAdminAccount':
            $mdindresult = mdind_set_admin_account($mdindargs);
            break;
        case 'createCategory':
            $mdindresult = mdind_create_category($mdindargs);
            break;
        case 'createCategories':
            $mdindresult = mdind_batch($mdindargs, 'categories', 500, 'mdind_create_category', 'categories');
            break;
        case 'createCourse':
            $mdindresult = mdind_create_course($mdindargs);
            break;
        case 'createCourses':
            $mdindresult = mdind_batch($mdindargs, 'courses', 500, 'mdind_create_course', 'courses');
            break;
        case 'createUser':
            $mdindresult = mdind_create_user($mdindargs);
            break;
        case 'createUsers':
            $mdindresult = mdind_batch($mdindargs, 'users', 1000, 'mdind_create_user', 'users');
            break;
        case 'enrolUser':
            $mdindresult = mdind_enrol_user($mdindargs);
            break;
        case 'enrolUsers':
            $mdindresult = mdind_batch($mdindargs, 'enrolments', 5000, 'mdind_enrol_user', 'enrolments');
            break;
        case 'createCohort':
            $mdindresult = mdind_create_cohort($mdindargs);
            break;
        case 'createCohorts':
            $mdindresult = mdind_batch($mdindargs, 'cohorts', 500, 'mdind_create_cohort', 'cohorts');
            break;
        case 'addModule':
            $mdindresult = mdind_add_module($mdindargs);
            break;
        case 'restoreCourse':
            $mdindresult = mdind_restore_course($mdindargs);
            break;
        case 'installMoodlePlugin':
            $mdindresult = mdind_check_plugin($mdindargs, null);
            break;
        case 'installTheme':
            $mdindresult = mdind_check_plugin($mdindargs, 'theme');
            break;
        case 'runPhpCode':
        case 'runPhpScript':
            $mdindresult = mdind_run_php_code($mdindargs);
            break;
        case 'installMoodle':
            $mdindresult = mdind_install_moodle($mdindargs);
            break;
        case 'createSection':
            $mdindresult = mdind_create_section($mdindargs);
            break;
        case 'createSections':
            $mdindresult = mdind_batch($mdindargs, 'sections', 500, 'mdind_create_section', 'sections');
            break;
        case 'createRole':
            $mdindresult = mdind_create_role($mdindargs);
            break;
        case 'createRoles':
            $mdindresult = mdind_create_roles($mdindargs);
            break;
        case 'importRoles':
        case 'importRolePreset':
            $mdindresult = mdind_import_roles($mdindargs);
            break;
        case 'createScale':
            $mdindresult = mdind_create_scale($mdindargs);
            break;
        case 'createScales':
            $mdindresult = mdind_create_scales($mdindargs);
            break;
        case 'purgeMoodleCaches':
            $mdindresult = mdind_purge_caches();
            break;
        default:
            mdind_fail("step '" . substr($mdindname, 0, 100) . "' is not handled by this script", 2);
    }
    mdind_finish(['changed' => (bool) $mdindresult[0], 'detail' => (string) $mdindresult[1]], 0);
} catch (\Throwable $e) {
    $mdindmsg = $e->getMessage();
    if ($e instanceof moodle_exception && !empty($e->debuginfo)) {
        $mdindmsg .= ' (' . $e->debuginfo . ')';
    }
    mdind_fail($mdindname . ': ' . $mdindmsg, 1);
}
