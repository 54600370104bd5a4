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
// name+parent, course shortname, username, cohort idnumber or name, module idnumber or name+section).
//
// Resource fields ("data") must be materialised by the executor before the step is sent here:
//     {"localPath": "/abs/path/in/container"}   a file the executor copied into the container
//     {"base64": "..."} or {"literal": "..."}   small inline content
// URL, bundled and data-url descriptors are resolved host-side (with the policy's caps) and never here.
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

/** A path relative to the code root that cannot leave it (used by the unsafe file steps only). */
function mdind_code_path(string $root, string $rel): string {
    if ($rel === '' || $rel[0] === '/' || strpos($rel, '\\') !== false || strpos($rel, "\0") !== false ||
            in_array('..', explode('/', $rel), true)) {
        throw new mdind_input_exception("path '{$rel}' must be relative to the Moodle code root and stay inside it");
    }
    return $root . '/' . $rel;
}

function mdind_inside(string $root, string $path): bool {
    $real = realpath($path);
    return $real !== false && ($real === $root || strpos($real, $root . '/') === 0);
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
    // No password given: a random one, not a well-known default. user_create_user checks the policy.
    $password = mdind_str($a, 'password', false, '', 256);
    $user->password = $password ?? generate_password(20);
    $id = user_create_user($user, true, false);
    return [true, "created user {$username} (id {$id})" . ($password === null ? ', random password' : '')];
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

function mdind_add_module(array $a): array {
    global $DB, $CFG;
    require_once($CFG->dirroot . '/course/lib.php');
    require_once($CFG->dirroot . '/course/modlib.php');
    require_once($CFG->libdir . '/resourcelib.php');
    $module = mdind_str($a, 'module', true, '/^(page|label|url|forum)$/', 20);
    $course = mdind_course_by_shortname(mdind_str($a, 'course', true, MDIND_LINE, 255));
    $section = mdind_int($a, 'section', 0, 0, 100);
    $idnumber = mdind_str($a, 'idnumber', false, MDIND_IDNUMBER, 100);
    $intro = isset($a['intro']) && is_string($a['intro']) ? $a['intro'] : '';
    $name = $module === 'label' ? null : mdind_str($a, 'name', true, MDIND_LINE, 255);
    if ($module === 'label' && trim($intro) === '') {
        throw new mdind_input_exception('a label needs an intro');
    }
    if (!$DB->record_exists('modules', ['name' => $module, 'visible' => 1])) {
        throw new mdind_input_exception("activity module '{$module}' is not installed or is disabled");
    }

    // Idempotency: the same idnumber in the course, else the same name (a label: the same text) in the same section.
    $modinfo = get_fast_modinfo($course);
    foreach ($modinfo->get_instances_of($module) as $cm) {
        if ($idnumber !== null) {
            if ((string) $cm->idnumber === $idnumber) {
                return [false, "{$module} {$idnumber} exists (cmid {$cm->id})"];
            }
            continue;
        }
        if ((int) $cm->sectionnum !== $section) {
            continue;
        }
        if ($module === 'label') {
            if ($DB->get_field('label', 'intro', ['id' => $cm->instance]) === $intro) {
                return [false, "label exists (cmid {$cm->id})"];
            }
        } else if ($cm->name === $name) {
            return [false, "{$module} '{$name}' exists (cmid {$cm->id})"];
        }
    }

    course_create_sections_if_missing($course, $section);
    $mi = new stdClass();
    $mi->modulename = $module;
    $mi->module = $DB->get_field('modules', 'id', ['name' => $module], MUST_EXIST);
    $mi->course = $course->id;
    $mi->section = $section;
    $mi->visible = mdind_bool($a, 'visible', true) ? 1 : 0;
    $mi->visibleoncoursepage = 1;
    $mi->cmidnumber = $idnumber ?? '';
    $mi->groupmode = 0;
    $mi->groupingid = 0;
    $mi->availability = null;
    $mi->completion = 0;
    $mi->completionview = 0;
    $mi->completionexpected = 0;
    $mi->introeditor = ['text' => $intro, 'format' => FORMAT_HTML, 'itemid' => file_get_unused_draft_itemid()];
    if ($name !== null) {
        $mi->name = $name;
    }
    if ($module === 'page') {
        $mi->content = isset($a['content']) && is_string($a['content']) ? $a['content'] : '';
        $mi->contentformat = FORMAT_HTML;
        $mi->display = RESOURCELIB_DISPLAY_OPEN;
        $mi->printheading = 1;
        $mi->printintro = 0;
        $mi->printlastmodified = 1;
        $mi->revision = 1;
    } else if ($module === 'url') {
        $url = mdind_str($a, 'externalurl', true, '', 2048);
        if (!preg_match('~^https?://~i', $url)) {
            throw new mdind_input_exception("'externalurl' must be an http(s) URL");
        }
        $mi->externalurl = $url;
        $mi->display = RESOURCELIB_DISPLAY_AUTO;
        $mi->printintro = 1;
    } else if ($module === 'forum') {
        $mi->type = mdind_str($a, 'type', false, '/^(general|news|qanda|eachuser|single|blog)$/', 20) ?? 'general';
        $mi->forcesubscribe = 0;
        $mi->assessed = 0;
        $mi->scale = 0;
        $mi->grade_forum = 0;
        $mi->maxbytes = 0;
        $mi->maxattachments = 1;
        $mi->trackingtype = 1;
    }
    $mi = create_module($mi);
    return [true, "added {$module}" . ($name !== null ? " '{$name}'" : '') . " to {$course->shortname} (cmid {$mi->coursemodule})"];
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

function mdind_write_file(array $a, string $root): array {
    $rel = mdind_str($a, 'path', true, '', 4096);
    $target = mdind_code_path($root, $rel);
    $src = mdind_resource_file(isset($a['data']) ? $a['data'] : null, 'data');
    $dir = dirname($target);
    if (!is_dir($dir) && !mkdir($dir, 0755, true)) {
        throw new mdind_input_exception("cannot create the folder for {$rel}");
    }
    if (!mdind_inside($root, $dir) || is_link($target)) {
        throw new mdind_input_exception("{$rel} resolves outside the code root");
    }
    if (is_file($target) && hash_file('sha256', $target) === hash_file('sha256', $src)) {
        return [false, "{$rel} already has this content"];
    }
    if (!copy($src, $target)) {
        throw new mdind_input_exception("cannot write {$rel}");
    }
    return [true, "wrote {$rel}"];
}

function mdind_unzip(array $a, string $root): array {
    $rel = mdind_str($a, 'destination', true, '', 4096);
    $dest = mdind_code_path($root, $rel);
    $src = mdind_resource_file(isset($a['data']) ? $a['data'] : null, 'data');
    $zip = new ZipArchive();
    if ($zip->open($src, ZipArchive::RDONLY) !== true) {
        throw new mdind_input_exception("'data' is not a ZIP archive");
    }
    try {
        $total = 0;
        if ($zip->numFiles > 20000) {
            throw new mdind_input_exception('ZIP has too many entries');
        }
        for ($i = 0; $i < $zip->numFiles; $i++) {
            $st = $zip->statIndex($i);
            $name = $st['name'];
            if ($name === '' || $name[0] === '/' || strpos($name, '\\') !== false || strpos($name, "\0") !== false ||
                    preg_match('/^[a-zA-Z]:/', $name) || in_array('..', explode('/', $name), true)) {
                throw new mdind_input_exception("ZIP entry '{$name}' is not a safe relative path");
            }
            $opsys = 0;
            $attr = 0;
            $zip->getExternalAttributesIndex($i, $opsys, $attr);
            if ($opsys === ZipArchive::OPSYS_UNIX && (($attr >> 16) & 0170000) === 0120000) {
                throw new mdind_input_exception("ZIP entry '{$name}' is a symbolic link");
            }
            $total += $st['size'];
            if ($total > 512 * 1024 * 1024) {
                throw new mdind_input_exception('ZIP unpacks to more than 512 MiB');
            }
        }
        if (!is_dir($dest) && !mkdir($dest, 0755, true)) {
            throw new mdind_input_exception("cannot create {$rel}");
        }
        if (!mdind_inside($root, $dest)) {
            throw new mdind_input_exception("{$rel} resolves outside the code root");
        }
        if (!$zip->extractTo($dest)) {
            throw new mdind_input_exception("extracting into {$rel} failed");
        }
        return [true, "extracted {$zip->numFiles} entries into {$rel}"];
    } finally {
        $zip->close();
    }
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
        case 'writeFile':
            $mdindresult = mdind_write_file($mdindargs, $mdindroot);
            break;
        case 'unzip':
            $mdindresult = mdind_unzip($mdindargs, $mdindroot);
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
