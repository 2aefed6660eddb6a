#!/bin/sh
# The host's PTP clock is there as /dev/ptp_hyperv (a udev link) and chrony uses it as a reference clock
# ("refclock PHC /dev/ptp_hyperv"), as Azure recommends; systemd-timesyncd alone cannot read a PHC.
set -u
# shellcheck source=lib.sh
. ./lib.sh
clocks=
for clock in /sys/class/ptp/ptp*; do
  [ -e "$clock" ] && clocks="$clocks /dev/${clock##*/} ($(cat "$clock/clock_name" 2>/dev/null))"
done
echo "PTP clocks:${clocks:- none}"
if [ ! -e /dev/ptp_hyperv ]; then
  ls -l /dev/ptp* 2>/dev/null
  fail "/dev/ptp_hyperv does not exist: no udev link to the Hyper-V PTP clock (hv_utils' time sync)"
fi
target=$(readlink -f /dev/ptp_hyperv)
echo "/dev/ptp_hyperv -> $target"

# chrony's configuration: the main file and the folders it usually includes.
refclocks=$(cat /etc/chrony.conf /etc/chrony/chrony.conf /etc/chrony.d/*.conf /etc/chrony/conf.d/*.conf \
  /etc/chrony/sources.d/*.sources 2>/dev/null | grep -E '^[[:space:]]*refclock[[:space:]]+PHC[[:space:]]')
echo "chrony refclocks: ${refclocks:-none}"
uses=no
for device in $(echo "$refclocks" | awk '{ print $3 }'); do
  [ -e "$device" ] && [ "$(readlink -f "$device")" = "$target" ] && uses=yes
done

chrony_active=no
if has_systemd; then
  for unit in chronyd chrony systemd-timesyncd ntpd ntp; do
    systemctl is-active --quiet "$unit" 2>/dev/null && echo "$unit is active"
  done
  { systemctl is-active --quiet chronyd || systemctl is-active --quiet chrony; } 2>/dev/null && chrony_active=yes
fi
if [ "$chrony_active" = no ] && have pgrep && pgrep -x chronyd >/dev/null; then chrony_active=yes; fi
if [ "$chrony_active" = no ]; then
  fail "chrony does not run, so nothing reads /dev/ptp_hyperv (systemd-timesyncd and plain NTP cannot)"
fi
[ "$uses" = yes ] || fail "chrony runs but has no 'refclock PHC /dev/ptp_hyperv' in its configuration"
have chronyc || fail "chronyc is missing: cannot ask chronyd for its sources"
# chronyc answers monitoring commands over UDP to anyone; where that port is off, only root may use its socket.
chrony() { chronyc -n "$@" 2>&1 || as_root chronyc -n "$@" 2>&1; }

# A reference clock is a '#' line of "chronyc sources"; '?' (unusable) and 'x' (falseticker) are not good. It may
# take a few polls after boot to become usable: wait up to a minute.
tries=0
while :; do
  sources=$(chrony sources)
  refclock=$(echo "$sources" | grep '^#')
  state=$(echo "$refclock" | cut -c2 | head -n 1)
  case "$state" in
    '*' | '+' | '-' | '~') break ;;
  esac
  tries=$((tries + 1))
  [ "$tries" -ge 12 ] && break
  sleep 5
done
echo "$sources"
chrony tracking | grep -E '^(Reference ID|Stratum|System time|Leap status)'
echo "$sources" | grep -q '^MS' || fail "chronyc did not answer: cannot tell which sources chronyd uses"
case "$state" in
  '*') echo "chrony is synchronised to the Hyper-V PTP clock" ;;
  '+' | '-' | '~') echo "chrony uses the Hyper-V PTP clock (state '$state', not selected as the sync source)" ;;
  '') fail "chronyc sources lists no reference clock, though chrony's configuration names /dev/ptp_hyperv" ;;
  *) fail "the reference clock is not usable after a minute (state '$state')" ;;
esac
