<?php
// The fixture's stand-in for Moodle's admin/cli/purge_caches.php: the fixture keeps no caches.
define('CLI_SCRIPT', true);
echo "caches purged\n";
