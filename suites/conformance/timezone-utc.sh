#!/bin/sh
# The system time zone is UTC.
set -u
zone=$(date +%Z)
target=$(readlink /etc/localtime 2>/dev/null || echo none)
echo "time zone $zone (/etc/localtime -> $target)"
[ "$zone" = UTC ] || { echo "expected UTC"; exit 1; }
