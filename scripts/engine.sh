#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine. This is the one script README, CI and
# `moodle-dind up` use, so it must be idempotent: an engine that already answers is reused untouched.
#
#   bash scripts/engine.sh
#
# Exit 0: `docker info` answers. Exit 1: it does not, and the message says what to do.
set -euo pipefail

LOG=/var/log/dockerd.log
WAIT_SECONDS=60

say() { printf 'engine: %s\n' "$*"; }

engine_answers() {
  command -v docker >/dev/null 2>&1 && docker info >/dev/null 2>&1
}

is_root() { [ "$(id -u)" = "0" ]; }

is_debian_like() {
  [ -r /etc/os-release ] || return 1
  # Sourced in a subshell so its variables do not leak into ours.
  (
    . /etc/os-release
    case " ${ID:-} ${ID_LIKE:-} " in
      *" debian "* | *" ubuntu "*) exit 0 ;;
      *) exit 1 ;;
    esac
  )
}

APT_UPDATED=0
apt_install() {
  # One `apt-get update` per run at most: it is the slow part and the lists do not change in between.
  if [ "$APT_UPDATED" = 0 ]; then
    say "apt-get update"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  say "apt-get install $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# debootstrap is how offline machines (no image registry) get their Debian base images; lib/images/base.ts
# calls it. Checked even when the engine already answers, because that is the common case on a dev box.
ensure_debootstrap() {
  if is_root && is_debian_like && ! command -v debootstrap >/dev/null 2>&1; then
    apt_install debootstrap
  fi
}

print_manual_steps() {
  cat >&2 <<'EOF'
engine: no Docker engine answers and this script cannot start one here.
  It only installs/starts an engine when run as root on Debian or Ubuntu. Do one of:
    - on Debian/Ubuntu:   sudo bash scripts/engine.sh
    - elsewhere:          install Docker Engine (https://docs.docker.com/engine/install/), start it,
                          then check that `docker info` works for this user
    - a remote engine:    export DOCKER_HOST=tcp://host:2375 (or unix:///path/docker.sock)
  Then run this script again.
EOF
}

if engine_answers; then
  say "a Docker engine already answers ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown version)); reusing it"
  ensure_debootstrap
  exit 0
fi

if ! is_root || ! is_debian_like; then
  print_manual_steps
  exit 1
fi

ensure_debootstrap

if ! command -v dockerd >/dev/null 2>&1; then
  # docker.io is Debian's own build: it comes from the distribution mirror, which is reachable even
  # where download.docker.com is not.
  apt_install docker.io
fi

if ! command -v docker >/dev/null 2>&1; then
  apt_install docker-cli || apt_install docker.io
fi

if pgrep -x dockerd >/dev/null 2>&1; then
  # A dockerd that is starting (or stuck) already owns the pid file; a second one would fail, so wait.
  say "dockerd is already running (pid $(pgrep -x dockerd | head -1)); waiting for it to answer"
else
  say "starting dockerd in the background (log: $LOG)"
  # setsid + nohup: the daemon must outlive this shell and the terminal/CI step that ran it.
  setsid nohup dockerd >>"$LOG" 2>&1 </dev/null &
fi

for ((i = 0; i < WAIT_SECONDS; i++)); do
  if engine_answers; then
    say "dockerd answers after ${i}s ($(docker version --format '{{.Server.Version}}' 2>/dev/null || echo unknown version))"
    exit 0
  fi
  sleep 1
done

say "dockerd did not answer within ${WAIT_SECONDS}s; last lines of $LOG:" >&2
tail -n 20 "$LOG" >&2 || true
exit 1
