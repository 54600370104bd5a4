<?php
// moodle-dind CI fixture: a stand-in for Moodle with the same layout (5.1: web root in public/).
defined('MOODLE_INTERNAL') || define('MOODLE_INTERNAL', true);
$version  = 2025100600.00;
$release  = 'fixture 1.0';
$branch   = 'fixture';
