<?php
// moodle-dind: make a restored template or a clone this instance's own site.
// Usage (as www-data in the app container): php mdind_site_reset.php /var/www/moodle < values.json
// Values arrive on stdin (never argv): {"fullname","shortname","adminuser","adminpass","adminemail","newsite","keepcaches"}.
// wwwroot, DB credentials and the session cookie are already in the new config.php.
define('CLI_SCRIPT', true);
define('NO_OUTPUT_BUFFERING', true);

$root = $argv[1] ?? '';
if ($root === '' || !is_file($root . '/config.php')) {
    fwrite(STDERR, "usage: php mdind_site_reset.php <moodle root>\n");
    exit(2);
}
$in = json_decode(stream_get_contents(STDIN), true);
if (!is_array($in)) {
    fwrite(STDERR, "expected a JSON object on stdin\n");
    exit(2);
}
require($root . '/config.php');
global $CFG, $DB;
require_once($CFG->libdir . '/moodlelib.php');

$site = $DB->get_record('course', ['id' => SITEID], '*', MUST_EXIST);
$site->fullname = (string)$in['fullname'];
$site->shortname = (string)$in['shortname'];
$DB->update_record('course', $site);

$admin = $DB->get_record('user', ['username' => (string)$in['adminuser'], 'mnethostid' => $CFG->mnet_localhost_id], '*', MUST_EXIST);
update_internal_user_password($admin, (string)$in['adminpass'], true);
if (!empty($in['adminemail'])) {
    $DB->set_field('user', 'email', (string)$in['adminemail'], ['id' => $admin->id]);
}
// Sessions of the template's site are meaningless here.
$DB->delete_records('sessions');
if (!empty($in['keepcaches'])) {
    // A template's child: same code at the same path and the same site identifier, so the warm
    // caches it was given stay valid. Only compiled CSS embeds the old wwwroot (image URLs), and the
    // site course's cached info holds the old site name.
    require_once($CFG->libdir . '/filelib.php');
    cache::make('core', 'postprocessedcss')->purge();
    foreach (glob("{$CFG->localcachedir}/theme/*", GLOB_ONLYDIR) ?: [] as $dir) {
        fulldelete($dir);
    }
    rebuild_course_cache(SITEID, true);
} else {
    if (!empty($in['newsite'])) {
        // A clone must not share the site identity (registration, cache keys).
        set_config('siteidentifier', random_string(32) . get_host_from_url($CFG->wwwroot));
    }
    purge_all_caches();
}
echo json_encode(['ok' => true, 'site' => $site->fullname]), "\n";
