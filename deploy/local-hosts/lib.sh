# Shared by up.sh and down.sh. State (keys, sshd configs, hosts.json) lives outside the clone's tracked files.
# shellcheck shell=bash
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
state=${TESTGRID_LOCAL_HOSTS:-$repo/.testgrid/local-hosts}
label=testgrid.local-hosts
