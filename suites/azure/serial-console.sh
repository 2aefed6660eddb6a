#!/bin/sh
# The kernel logs to Azure's serial console: console=ttyS0 on x64, console=ttyAMA0 on arm64 (with or without
# options such as ",115200n8"), so that boot diagnostics and the serial console see it.
set -u
cmdline=$(cat /proc/cmdline)
echo "$cmdline"
arch=${TESTGRID_ARCH:-}
if [ -z "$arch" ]; then
  case "$(uname -m)" in aarch64 | arm64) arch=arm64 ;; *) arch=x64 ;; esac
fi
case "$arch" in
  arm64) want=ttyAMA0 ;;
  *) want=ttyS0 ;;
esac
found=no
consoles=
set -f
for arg in $cmdline; do
  case "$arg" in
    console=*) consoles="$consoles ${arg#console=}" ;;
  esac
  case "$arg" in
    "console=$want" | "console=$want,"*) found=yes ;;
  esac
done
set +f
echo "consoles:${consoles:- none}"
[ "$found" = yes ] || { echo "no console=$want on the kernel command line ($arch)"; exit 1; }
echo "the kernel logs to $want"
