#!/usr/bin/env bash
# The README's start command: engine, npm packages, then `moodle-dind up` (images, host, URL).
#   bash scripts/up.sh [--all-interfaces]     start
#   bash scripts/up.sh --down                 stop the host (volumes and data stay)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/engine.sh
bash scripts/npm-deps.sh
if [ "${1:-}" = "--down" ]; then
  exec node bin/moodle-dind.mjs down
fi
exec node bin/moodle-dind.mjs up "$@"
