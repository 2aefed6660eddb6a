#!/bin/sh
# No world-writable files, and no world-writable directories without the sticky bit, in system paths.
set -u
paths=""
for p in /usr /etc /bin /sbin /lib /lib64 /boot /opt; do [ -d "$p" ] && [ ! -L "$p" ] && paths="$paths $p"; done
found=$(find $paths -xdev \( -type f -perm -0002 \) -o \( -type d -perm -0002 ! -perm -1000 \) 2>/dev/null | head -n 50)
if [ -n "$found" ]; then
  echo "world-writable in system paths:"
  echo "$found"
  exit 1
fi
echo "none in$paths"
