#!/bin/sh
# The hostname is set, a valid DNS label sequence, and not localhost.
set -u
name=$(hostname)
echo "hostname: $name"
[ -n "$name" ] || { echo "no hostname"; exit 1; }
[ "$name" != localhost ] || { echo "the hostname is localhost"; exit 1; }
echo "$name" | grep -Eq '^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$' || { echo "'$name' is not a valid hostname"; exit 1; }
