<?php
// Like Moodle 5.1's public/config.php: the real config.php lives one level up.
$configfile = __DIR__ . '/../config.php';
if (!file_exists($configfile)) {
    http_response_code(503);
    die('not configured');
}
require($configfile);
