<?php
// The fixture's stand-ins for the few Moodle session calls moodle-dind's one-time admin login
// (instances/php/mdind_login.php) makes: get_admin, complete_user_login, moodle_url, redirect.
// Sessions live in moodledata like Moodle's file sessions, under the same cookie name.

function fixture_session_start(): void {
    global $CFG;
    if (session_status() === PHP_SESSION_ACTIVE) {
        return;
    }
    $dir = $CFG->dataroot . '/sessions';
    if (!is_dir($dir)) {
        @mkdir($dir, 0700);
    }
    session_save_path($dir);
    session_name('MoodleSession' . $CFG->sessioncookie);
    session_set_cookie_params(['path' => '/', 'httponly' => true, 'samesite' => 'Lax']);
    session_start();
}

/** The site's admin, as the installer stored it. */
function get_admin() {
    global $DB;
    $u = $DB->query("SELECT value FROM mdl_fixture_site WHERE name = 'adminuser'")->fetchColumn();
    return $u ? (object)['username' => $u] : false;
}

function complete_user_login($user) {
    fixture_session_start();
    session_regenerate_id(true);
    $_SESSION['username'] = $user->username;
    $_SESSION['loggedinat'] = time();
    return $user;
}

/** The logged-in user's name, or null. */
function fixture_current_user(): ?string {
    fixture_session_start();
    return isset($_SESSION['username']) ? (string)$_SESSION['username'] : null;
}

class moodle_url {
    private $path;

    public function __construct(string $path) {
        $this->path = $path;
    }

    public function out(): string {
        global $CFG;
        return rtrim($CFG->wwwroot, '/') . $this->path;
    }
}

function redirect($url): void {
    header('Location: ' . ($url instanceof moodle_url ? $url->out() : (string)$url), true, 303);
    exit;
}
