#!/bin/sh
# NICs: every physical network interface (one on a bus device; not loopback, bridges, veths, tunnels) has a kernel
# driver, operstate up and a carrier. A machine whose interfaces are all virtual (a container, a VM without a NIC
# device) has no NIC to certify: the test skips and says which interfaces it saw.
set -u
. ./lib.sh
[ -d /sys/class/net ] || skip "/sys/class/net is not there: no network interfaces to look at"
physical=0; virtual=''; bad=0
for i in /sys/class/net/*; do
  [ -e "$i" ] || continue
  name=${i##*/}
  [ "$name" = lo ] && continue
  if [ ! -e "$i/device" ]; then
    virtual="$virtual $name"
    continue
  fi
  physical=$((physical + 1))
  [ "$physical" -le 64 ] || continue
  driver=''
  [ -e "$i/device/driver" ] && driver=$(basename "$(readlink "$i/device/driver")")
  state=$(cat "$i/operstate" 2>/dev/null)
  carrier=$(cat "$i/carrier" 2>/dev/null)
  speed=$(cat "$i/speed" 2>/dev/null)
  echo "$name: driver ${driver:-none}, operstate ${state:-?}, carrier ${carrier:-?}, speed ${speed:-?} Mb/s, bus $(basename "$(readlink "$i/device")")"
  [ -n "$driver" ] || { echo "  $name has no kernel driver bound"; bad=$((bad + 1)); }
  [ "$state" = up ] || { echo "  $name is not up (operstate ${state:-unknown})"; bad=$((bad + 1)); }
  [ "$carrier" = 1 ] || { echo "  $name has no carrier (no link: cable, switch port or driver)"; bad=$((bad + 1)); }
done
[ -z "$virtual" ] || echo "virtual interfaces (not checked):$virtual"
[ "$physical" -gt 0 ] || skip "no physical NIC: every interface besides lo is virtual (${virtual# }); nothing to certify"
[ "$bad" -eq 0 ] || fail "$bad problem(s) on $physical physical NIC(s) (above)"
echo "$physical physical NIC(s) with a driver, up, with carrier"
