<?php
// Stands in for Moodle's dashboard (/my/): the logged-in user's page, or the login page without a session.
require(__DIR__ . '/../config.php');
$user = fixture_current_user();
if ($user === null) {
    redirect(new moodle_url('/login/index.php'));
}
header('Content-Type: text/html; charset=utf-8');
$u = htmlspecialchars($user, ENT_QUOTES);
echo "<!DOCTYPE html><html><head><title>Dashboard</title></head><body><h1>Dashboard</h1>";
echo "<p id=\"loggedin\">You are logged in as {$u}</p></body></html>";
