#!/usr/bin/env bash
# Prepares a machine for TestGrid's main job and tests; safe to run again (each step checks first).
#  - Debian packages: docker.io (a Docker engine for the test hosts), mmdebstrap (image recipes), openssh-client
#    (ssh-keygen), iproute2;
#  - a running Docker engine: the system's, or dockerd started here with loopback-only settings;
#  - the debian12-sshd image, built from Debian packages and cached by recipe hash ($TESTGRID_CACHE).
# Needs root for the first two when something is missing; otherwise prints the command to run and exits 3.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
say() { echo "setup: $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; return; fi
  say "needs root for: $*"
  say "run it (or this script) with sudo, then try again"
  exit 3
}

command -v dotnet >/dev/null && dotnet --list-sdks | grep -q '^10\.' || {
  say ".NET SDK 10 is missing: install it (https://learn.microsoft.com/dotnet/core/install/linux-debian), then try again"
  exit 3
}

missing=()
# The engine, not the client: some machines carry a docker CLI with no engine behind it.
docker info >/dev/null 2>&1 || command -v dockerd >/dev/null || missing+=(docker.io)
command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
command -v ssh-keygen >/dev/null || missing+=(openssh-client)
command -v ip >/dev/null || missing+=(iproute2)
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]}"
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

if ! docker info >/dev/null 2>&1; then
  if [ -d /run/systemd/system ] && systemctl list-unit-files docker.service >/dev/null 2>&1; then
    say "starting docker.service"
    as_root systemctl start docker
  else
    # No init system to ask: start the engine with networking kept to the host (the test hosts use host networking
    # and bind 127.0.0.1), no bridge, no iptables.
    say "starting dockerd (log: /var/log/testgrid-dockerd.log)"
    as_root sh -c 'nohup dockerd --bridge=none --iptables=false --ip-masq=false --ip-forward=false --userland-proxy=false >/var/log/testgrid-dockerd.log 2>&1 &'
  fi
  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 0.5; done
  docker info >/dev/null 2>&1 || { say "the Docker engine did not come up; see /var/log/testgrid-dockerd.log"; exit 2; }
fi

"$repo/deploy/images/docker-image.sh" debian12-sshd >/dev/null
say "ready"
