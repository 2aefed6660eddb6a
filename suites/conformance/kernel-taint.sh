#!/bin/sh
# The kernel is not tainted; if it is, say which flags (Documentation/admin-guide/tainted-kernels).
set -u
taint=$(cat /proc/sys/kernel/tainted)
echo "kernel.tainted = $taint"
[ "$taint" -eq 0 ] && exit 0
flags="P:proprietary-module F:forced-load S:unsafe-smp R:forced-unload M:machine-check B:bad-page U:user-request D:died(oops) A:acpi-override W:warning C:staging O:out-of-tree E:unsigned L:soft-lockup K:live-patched X:auxiliary T:randstruct N:test"
bit=0
for flag in $flags; do
  [ $(( (taint >> bit) & 1 )) -eq 1 ] && echo "  bit $bit: $flag"
  bit=$((bit + 1))
done
dmesg 2>/dev/null | grep -iE 'taint|warning' | tail -n 5
exit 1
