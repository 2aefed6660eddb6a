#!/bin/sh
# Loopback is up, some interface besides lo has an address, and localhost resolves.
set -eu
ip -o link show lo | grep -q 'UP' || { echo "loopback is not up: $(ip -o link show lo)"; exit 1; }
addresses=$(ip -o addr show scope global | awk '{print $2, $4}')
[ -n "$addresses" ] || { echo "no interface has a global address"; ip -o addr show; exit 1; }
echo "addresses:"
echo "$addresses"
getent hosts localhost >/dev/null || { echo "localhost does not resolve"; exit 1; }
if [ -s /etc/resolv.conf ]; then
  grep -E '^(nameserver|search)' /etc/resolv.conf || true
fi
echo "network configured"
