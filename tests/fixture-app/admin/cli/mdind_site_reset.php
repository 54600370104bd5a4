<?php
// The fixture's stand-in for instances/php/mdind_site_reset.php: same stdin contract, fixture tables.
define('CLI_SCRIPT', true);
require($argv[1] . '/config.php');
global $DB;
$in = json_decode(stream_get_contents(STDIN), true);
$set = $DB->prepare('UPDATE mdl_fixture_site SET value = ? WHERE name = ?');
$set->execute([(string)$in['fullname'], 'fullname']);
$set->execute([(string)$in['shortname'], 'shortname']);
$set->execute([password_hash((string)$in['adminpass'], PASSWORD_DEFAULT), 'adminpasshash']);
echo json_encode(['ok' => true, 'site' => $in['fullname']]), "\n";
