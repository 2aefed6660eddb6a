#!/bin/sh
# The clock is within 5 minutes of the runner's (TESTGRID_RUNNER_EPOCH, taken when the test started).
set -eu
now=$(date -u +%s)
skew=$((now - ${TESTGRID_RUNNER_EPOCH:?}))
[ "$skew" -lt 0 ] && skew=$((-skew))
echo "guest $(date -u '+%FT%TZ'), ${skew} s from the runner"
[ "$skew" -le 300 ] || { echo "clock is off by ${skew} s; expected at most 300"; exit 1; }
