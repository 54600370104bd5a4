<?php
// moodle-dind: "Open as admin", a one-time login link. Not part of Moodle: moodle-dind mounts this
// file read-only at /opt/moodle-dind/mdind_login.php in the app and web containers, and the web
// server maps /mdind-login.php to it (instances/render.ts). The dashboard made a random token,
// kept only its SHA-256 as moodledata/.mdind-login/<hash>.json with an expiry (instances/login.ts)
// and opened /mdind-login.php?t=<token>. The token is used once: the file is claimed by rename,
// so of two requests with the same token only one logs in, then it is deleted.

define('MDIND_LOGIN_MAX_AGE', 60);

function mdind_login_refuse(string $why): void {
    http_response_code(403);
    header('Content-Type: text/plain; charset=utf-8');
    header('Cache-Control: no-store');
    echo "This login link is not valid: $why. Open a new one from the moodle-dind dashboard.\n";
    exit;
}

$token = $_GET['t'] ?? '';
if (!is_string($token) || !preg_match('/^[A-Za-z0-9_-]{43}$/', $token)) {
    mdind_login_refuse('malformed');
}

require('/var/www/moodle/config.php');
global $CFG;

$root = realpath($CFG->dataroot);
$dir = $CFG->dataroot . '/.mdind-login';
// No link anywhere on the way: the folder must be the real one inside the real dataroot.
if ($root === false || is_link($dir) || !is_dir($dir) || realpath($dir) !== $root . '/.mdind-login') {
    mdind_login_refuse('unknown or used');
}
$file = $dir . '/' . hash('sha256', $token) . '.json';
if (is_link($file) || !is_file($file)) {
    mdind_login_refuse('unknown or used');
}
$claimed = $file . '.used-' . bin2hex(random_bytes(8));
if (!@rename($file, $claimed)) {
    mdind_login_refuse('unknown or used');
}
$raw = is_link($claimed) ? false : @file_get_contents($claimed, false, null, 0, 4096);
$age = time() - (int)@filemtime($claimed);
@unlink($claimed);
$data = $raw === false ? null : json_decode($raw, true);
$expires = is_array($data) && isset($data['expires']) ? (int)$data['expires'] : 0;
// Expired, or an expiry further out than the rule allows (not written by moodle-dind): refused.
if ($expires < time() || $expires > time() + MDIND_LOGIN_MAX_AGE || $age > MDIND_LOGIN_MAX_AGE) {
    mdind_login_refuse('expired');
}

$admin = get_admin();
if (!$admin) {
    mdind_login_refuse('the site has no admin');
}
complete_user_login($admin);
header('Cache-Control: no-store');
redirect(new moodle_url('/my/'));
