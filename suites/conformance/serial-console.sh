#!/bin/sh
# The kernel logs to a serial console (ttyS* on x64, ttyAMA* on arm64), where boot diagnostics read it.
set -u
cmdline=$(cat /proc/cmdline)
echo "$cmdline"
echo "$cmdline" | grep -Eq 'console=(ttyS|ttyAMA)[0-9]' || { echo "no serial console= on the kernel command line"; exit 1; }
