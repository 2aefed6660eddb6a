#!/bin/sh
# The root filesystem is mounted and writable, with at least 100 MiB and 1000 inodes free.
set -eu
df -Pk /
set -- $(df -Pk / | awk 'NR==2 {print $4, $6}')
free_kib=$1
mount_point=$2
[ "$mount_point" = "/" ] || { echo "/ is not a mount point in df's view: $mount_point"; exit 1; }
[ "$free_kib" -ge 102400 ] || { echo "only $free_kib KiB free on /; expected at least 102400"; exit 1; }
inodes=$(df -Pi / | awk 'NR==2 {print $4}')
case "$inodes" in
  -|'') echo "filesystem reports no inode count" ;;
  *) [ "$inodes" -ge 1000 ] || { echo "only $inodes inodes free on /"; exit 1; } ;;
esac
probe="${TMPDIR:-/tmp}/testgrid-disk-$$"
echo testgrid > "$probe" && [ "$(cat "$probe")" = testgrid ] || { echo "cannot write and read back $probe"; exit 1; }
rm -f "$probe"
echo "/ has $free_kib KiB and ${inodes} inodes free; writes work"
