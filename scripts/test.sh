#!/usr/bin/env bash
# Every test, on a fresh machine or a warm one: the README's test command and what .ci/run calls.
#   bash scripts/test.sh            all phases
#   PHASES="unit integration" bash scripts/test.sh
# It brings up a Docker engine when none answers, installs Debian's chromium for the browser tests,
# installs npm packages, builds the instance images CI uses (offline: debootstrap when no registry),
# then runs typecheck, unit, integration and end-to-end tests, and prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

export MDIND_NO_PULL=${MDIND_NO_PULL:-1}  # no registry here; never even try one from tests
# Tests never reach Moodle's download site: port 9 is one fetch refuses to connect to, so a probe or
# download fails at once without sending anything. Download tests start their own local server.
export MDIND_MOODLE_DOWNLOAD_URL=${MDIND_MOODLE_DOWNLOAD_URL:-http://127.0.0.1:9}
PHASES=${PHASES:-"typecheck lint unit integration e2e reliability"}
REPORTS=$(mktemp -d)
export NEXT_TELEMETRY_DISABLED=1

step() { printf '\n=== %s ===\n' "$*"; }

step "engine"
bash scripts/engine.sh

step "system packages"
need=()
command -v chromium >/dev/null 2>&1 || need+=(chromium)
command -v unzip >/dev/null 2>&1 || need+=(unzip)
command -v zip >/dev/null 2>&1 || need+=(zip)
if [ "${#need[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
  else
    echo "missing: ${need[*]} — install them with apt-get (as root) and run again" >&2
    exit 1
  fi
fi

step "npm packages"
bash scripts/npm-deps.sh

step "instance images (built from Debian packages; skipped when up to date)"
node bin/moodle-dind.mjs images build php:8.2 postgres:15 nginx:1.22 mariadb:10.11 apache:2.4

status=0
for phase in $PHASES; do
  case "$phase" in
    typecheck)
      step "typecheck"
      npx tsc --noEmit -p tsconfig.json || status=1
      ;;
    lint)
      step "lint (ESLint: typescript-eslint, Next, react-hooks)"
      npm run --silent lint || status=1
      ;;
    unit)
      step "unit tests"
      npx vitest run --project unit --reporter=default --reporter=json --outputFile.json="$REPORTS/unit.json" || status=1
      ;;
    integration)
      step "integration tests (real engine, real images)"
      npx vitest run --project integration --reporter=default --reporter=json --outputFile.json="$REPORTS/integration.json" || status=1
      ;;
    e2e)
      step "end-to-end tests (real browser, real engine)"
      PLAYWRIGHT_JSON_OUTPUT_NAME="$REPORTS/e2e.json" npx playwright test --reporter=list,json || status=1
      ;;
    reliability)
      step "reliability (trimmed; full run: npx tsx bench/reliability.ts)"
      npx vitest run --project reliability --reporter=default --reporter=json --outputFile.json="$REPORTS/reliability.json" || status=1
      ;;
    *)
      echo "unknown phase $phase" >&2
      exit 2
      ;;
  esac
done

step "summary"
node scripts/summarize-tests.mjs "$REPORTS" || status=1
exit $status
