#!/usr/bin/env bash
# The tests, from nothing: set the machine up (Docker engine, QEMU, image tools, Azurite; the sshd container image and the
# x64 and arm64 VM images, cached), build, run every test (unit, engine, integration against real sshd hosts in
# containers and real QEMU guests), print "N passed, N failed", exit non-zero on any failure (the test results, a TRX
# file in a temporary folder, are kept and named then; removed when every test passed).
#   sudo scripts/test.sh [extra dotnet test arguments, e.g. --filter Category!=Integration]
# TESTGRID_SKIP_ARM64=1 leaves out the arm64 image and its guest.
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$repo"
images=(debian12-vm-amd64)
[ "${TESTGRID_SKIP_ARM64:-}" = 1 ] || images+=(debian12-vm-arm64)
scripts/setup.sh --images "${images[@]}"

results=$(mktemp -d -t testgrid-test-results.XXXXXX)
# What was set up above is required: its absence is a failure, not a skip.
export TESTGRID_REQUIRE_DOCKER=1 TESTGRID_REQUIRE_QEMU=1 TESTGRID_REQUIRE_AZURITE=1 TESTGRID_REQUIRE_DEPLOY_TOOLS=1
status=0
dotnet test TestGrid.sln -c Release --logger "trx;LogFileName=testgrid.trx" --logger "console;verbosity=normal" \
  --results-directory "$results" "$@" || status=$?

trx=$(find "$results" -name '*.trx' | head -n 1)
if [ -z "$trx" ]; then
  echo "0 passed, 0 failed (no test results: the build or the test host failed, exit $status)"
  exit $(( status == 0 ? 1 : status ))
fi
counters=$(grep -o '<Counters [^>]*>' "$trx")
count() { echo "$counters" | grep -o " $1=\"[0-9]*\"" | grep -o '[0-9]*'; }
passed=$(count passed); failed=$(count failed); total=$(count total)
skipped=$(( total - passed - failed ))
if [ "$failed" -gt 0 ]; then
  echo "failed (messages and output in $trx):"
  grep -o '<UnitTestResult [^>]*outcome="Failed"[^>]*>' "$trx" | grep -o 'testName="[^"]*"' | sed 's/^testName="\(.*\)"$/  \1/'
fi
echo "$passed passed, $failed failed, $skipped skipped or not run (of $total)"
[ "$failed" -eq 0 ] && [ "$status" -eq 0 ] || exit 1
# Kept only when something failed (its path is printed above).
rm -rf "$results"
