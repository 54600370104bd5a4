#!/usr/bin/env bash
# The README's start command: engine, npm packages, then `moodle-dind up` (images, host, URL).
#   bash scripts/up.sh [--all-interfaces]     start
#   bash scripts/up.sh --down                 stop the host (volumes and data stay)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/engine.sh
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  # npm ci refuses this lock: the registry here lacks the other platforms' optional packages
  # (@next/swc-darwin-*, @tailwindcss/oxide-*), so install from the lock with npm install.
  npm install --no-audit --no-fund
fi
if [ "${1:-}" = "--down" ]; then
  exec node bin/moodle-dind.mjs down
fi
exec node bin/moodle-dind.mjs up "$@"
