#!/usr/bin/env bash
# Refresh the README's screenshots from a real e2e server with fixture instances: the dashboard
# flow (create progress, instance, config editor), the images page with a preload, the list's
# sparklines, the per-service charts and the host totals. Uses Debian's chromium, never a download.
# Usage: scripts/screenshots.sh [port]   (MDIND_E2E_SKIP_BUILD=1 reuses the last build)
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-7863}"
export MDIND_E2E_PORT="$port" MDIND_NEXT_DIST="${MDIND_NEXT_DIST:-.next-screenshots}"
npx playwright test tests/e2e/dashboard.spec.ts tests/e2e/images.spec.ts
ls -l docs/screenshots
