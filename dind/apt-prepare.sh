#!/bin/bash
# Shared first step of every recipe. The one copy lives in dind/; the builds add it at the root of
# each context (lib/images/build.ts for dind/images/*, lib/host/image.ts for dind/host), and the
# instance images' recipe hash covers it, so changing it rebuilds them.
# - Adds the -updates and -security suites when the base only lists the main suite (a hand-imported
#   debootstrap rootfs does), so images get security fixes.
# - Stops package postinst scripts from starting services inside the build.
set -eu
. /etc/os-release
codename=${VERSION_CODENAME:?no VERSION_CODENAME in /etc/os-release}
if ! grep -rqs -- "${codename}-security" /etc/apt/sources.list /etc/apt/sources.list.d/; then
  mirror=$(sed -n 's/^deb \(https\?:[^ ]*\) .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)
  mirror=${mirror:-http://deb.debian.org/debian}
  security=http://deb.debian.org/debian-security
  case "$mirror" in */debian) security="${mirror}-security" ;; esac
  printf 'deb %s %s main\ndeb %s %s-updates main\ndeb %s %s-security main\n' \
    "$mirror" "$codename" "$mirror" "$codename" "$security" "$codename" >/etc/apt/sources.list
fi
printf '#!/bin/sh\n# Never start services while building an image.\nexit 101\n' >/usr/sbin/policy-rc.d
chmod 0755 /usr/sbin/policy-rc.d
