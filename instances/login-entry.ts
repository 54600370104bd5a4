import path from "node:path";
import { appRoot } from "../lib/moodle/paths";

/**
 * Where moodle-dind's one-time admin login entry (instances/php/mdind_login.php) lives inside an
 * instance: mounted read-only into app (php-fpm runs it) and web (Apache's Alias needs the file),
 * and reached at LOGIN_ENTRY_URL through a location of the rendered web config. Moodle's own code
 * is never changed. Constants only, so the pure renderers can import them.
 */
export const LOGIN_ENTRY_URL = "/mdind-login.php";
export const LOGIN_ENTRY_PATH = "/opt/moodle-dind/mdind_login.php";
export const loginEntrySource = () => path.join(appRoot(), "instances", "php", "mdind_login.php");
export const LOGIN_ENTRY_BIND = () => `${loginEntrySource()}:${LOGIN_ENTRY_PATH}:ro`;
