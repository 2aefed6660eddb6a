#!/bin/sh
# root may log in over SSH with a key only (or not at all), never with a password.
set -u
value=$(sshd -T 2>/dev/null | awk '$1 == "permitrootlogin" {print $2}')
echo "permitrootlogin $value"
case "$value" in
  prohibit-password | without-password | forced-commands-only | no) ;;
  *) echo "root may log in with a password (permitrootlogin $value)"; exit 1 ;;
esac
