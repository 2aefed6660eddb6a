#!/bin/sh
# No systemd unit failed during boot; the failed ones are listed with their last log lines.
set -u
if [ ! -d /run/systemd/system ]; then
  echo "systemd does not run here: no units to check"
  exit 77
fi
failed=$(systemctl --failed --no-legend --plain | awk '{print $1}')
if [ -z "$failed" ]; then
  echo "no failed units"
  exit 0
fi
for unit in $failed; do
  echo "== $unit"
  journalctl -b -u "$unit" --no-pager -n 5 2>/dev/null
done
echo "failed units: $(echo $failed)"
exit 1
