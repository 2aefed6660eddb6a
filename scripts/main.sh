#!/usr/bin/env bash
# The main job, from nothing: set the machine up, start local SSH hosts (deploy/local-hosts; the QEMU provider will
# replace them as the embedded default), run matrix.json on the embedded engine, stop the hosts. Exits with the
# verdict's code: 0 PASS, 1 FAIL, 2 INCOMPLETE, 3 invalid input.
#   sudo scripts/main.sh [extra testgrid run arguments, e.g. --out results/today]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scripts/setup.sh
dotnet build src/Client -c Release -v quiet -nologo >/dev/null

trap 'deploy/local-hosts/down.sh >/dev/null' EXIT
inventory=$(deploy/local-hosts/up.sh 2)
status=0
dotnet src/Client/bin/Release/net10.0/testgrid.dll run matrix.json --inventory "$inventory" "$@" || status=$?
exit $status
