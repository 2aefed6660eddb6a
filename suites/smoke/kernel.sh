#!/bin/sh
# The kernel answers, and runs the architecture the cell was planned for.
set -eu
release=$(uname -r)
machine=$(uname -m)
echo "kernel $release on $machine"
cat /proc/version
case "${TESTGRID_ARCH:-}:$machine" in
  x64:x86_64 | arm64:aarch64) ;;
  :*) echo "TESTGRID_ARCH is not set"; exit 1 ;;
  *) echo "the cell expects $TESTGRID_ARCH but the kernel runs $machine"; exit 1 ;;
esac
