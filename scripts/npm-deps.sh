#!/usr/bin/env bash
# npm packages from the committed lock files, exactly (npm ci), only when the lock is newer than
# what is installed. `scripts/npm-deps.sh` installs the app's; `scripts/npm-deps.sh lint` the
# linters' (scripts/lint: ESLint with its own TypeScript 5, since typescript-eslint needs
# TypeScript's JS API and TypeScript 7 has none).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=.
[ "${1:-}" = lint ] && dir=scripts/lint
if [ ! -d "$dir/node_modules" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
  (cd "$dir" && npm ci --no-audit --no-fund)
fi
