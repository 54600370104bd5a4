<?php
// Stands in for Moodle's login page: a site that answers it is installed and reachable. It shows
// the site name the installer stored, so a test sees the page of the right site.
require(__DIR__ . '/../config.php');
global $CFG, $DB;
$site = null;
try {
    $site = $DB->query("SELECT value FROM mdl_fixture_site WHERE name = 'fullname'")->fetchColumn();
} catch (PDOException $e) {
    $site = null;
}
header('Content-Type: text/html; charset=utf-8');
$name = htmlspecialchars((string)($site ?: 'Moodle fixture'), ENT_QUOTES);
echo "<!DOCTYPE html><html><head><title>{$name}: Log in to the site</title></head><body>";
echo "<h1>{$name}</h1><form method=\"post\" action=\"{$CFG->wwwroot}/login/index.php\">";
echo '<label for="username">Username</label><input id="username" name="username">';
echo '<label for="password">Password</label><input id="password" name="password" type="password">';
echo '<button type="submit" id="loginbtn">Log in</button></form></body></html>';
