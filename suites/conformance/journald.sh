#!/bin/sh
# systemd-journald runs and answers queries.
set -u
if [ ! -d /run/systemd/system ]; then
  echo "systemd does not run here: no journald"
  exit 77
fi
systemctl is-active --quiet systemd-journald || { echo "systemd-journald is not active"; exit 1; }
journalctl -b --no-pager -n 3 || { echo "journalctl cannot read this boot's journal"; exit 1; }
