#!/usr/bin/env bash
# The main job, from nothing: set the machine up (QEMU, image tools), build the Debian 12 VM images (x64 and arm64,
# cached), and run matrix.json on the embedded engine with the QEMU provider. Exits with the verdict's code:
# 0 PASS, 1 FAIL, 2 INCOMPLETE, 3 invalid input.
#   sudo scripts/main.sh [extra testgrid run arguments, e.g. --out results/today --keep failed]
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
scripts/setup.sh --no-docker --images debian12-vm-amd64 debian12-vm-arm64
scripts/publish.sh src/Client src/Client/bin/publish
exec dotnet src/Client/bin/publish/testgrid.dll run matrix.json "$@"
