#!/bin/sh
# A DNS resolver is configured: resolv.conf names a nameserver, and when that is systemd-resolved's stub, the
# service runs. (Whether upstream servers answer depends on the network the machine is in, not on the image.)
set -u
[ -r /etc/resolv.conf ] || { echo "/etc/resolv.conf is missing"; exit 1; }
echo "/etc/resolv.conf -> $(readlink -f /etc/resolv.conf)"
grep -E '^(nameserver|search|options)' /etc/resolv.conf
grep -q '^nameserver ' /etc/resolv.conf || { echo "no nameserver in /etc/resolv.conf"; exit 1; }
if grep -q '^nameserver 127.0.0.53' /etc/resolv.conf; then
  systemctl is-active --quiet systemd-resolved || { echo "resolv.conf points at systemd-resolved's stub, but systemd-resolved is not running"; exit 1; }
  echo "systemd-resolved is active; upstream servers: $(resolvectl dns 2>/dev/null | awk -F': ' 'NF > 1 {print $2}' | tr '\n' ' ')"
fi
