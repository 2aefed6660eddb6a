#!/usr/bin/env bash
# Stop and remove the local SSH hosts that up.sh started (found by their label).
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
ids=$(docker ps -aq --filter "label=$label" 2>/dev/null || true)
if [ -n "$ids" ]; then docker rm -f $ids >/dev/null; fi
echo "removed $(echo "$ids" | grep -c . || true) local hosts"
