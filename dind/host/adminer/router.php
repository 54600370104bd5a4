<?php
// PHP built-in server router: Adminer answers at /adminer only (the path the dashboard proxies);
// anything else is a 404, so no other PHP file under this directory is ever reachable.
$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH);
if ($path !== '/adminer' && $path !== '/adminer/') {
    http_response_code(404);
    header('Content-Type: text/plain');
    echo "not found\n";
    return true;
}
require __DIR__ . '/index.php';
