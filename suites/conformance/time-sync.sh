#!/bin/sh
# A time synchronisation service is active.
set -u
if [ ! -d /run/systemd/system ]; then
  echo "systemd does not run here: no time sync service to check"
  exit 77
fi
for unit in systemd-timesyncd chronyd chrony ntpd ntp; do
  if systemctl is-active --quiet "$unit" 2>/dev/null; then
    echo "$unit is active"
    exit 0
  fi
done
echo "no time sync service (systemd-timesyncd, chronyd, ntpd) is active"
exit 1
