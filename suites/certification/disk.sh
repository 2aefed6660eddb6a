#!/bin/sh
# Disks: block devices are listed; / is mounted with room (100 MiB and 1000 inodes free); 64 MiB (less when the disk
# is short of room) written with fsync to a disk-backed folder (/var/tmp, else $TMPDIR or /tmp when not tmpfs) read
# back with the same SHA-256.
set -u
. ./lib.sh
echo "block devices:"
if have lsblk; then
  lsblk -d -o NAME,SIZE,TYPE,ROTA,MODEL 2>/dev/null | head -n 64
fi
devices=0
for d in /sys/block/*; do
  [ -e "$d" ] || continue
  case "${d##*/}" in loop*|ram*|zram*) continue ;; esac
  devices=$((devices + 1))
  [ "$devices" -le 64 ] && echo "  ${d##*/}: $(( $(cat "$d/size" 2>/dev/null || echo 0) / 2048 )) MiB"
done
[ "$devices" -gt 0 ] || skip "no block device is visible (/sys/block lists none: a container without its own disks?)"

df -Pk / | tail -n 1
set -- $(df -Pk / | awk 'NR == 2 { print $4, $6 }')
free=$1; mount_point=$2
[ "$mount_point" = / ] || fail "/ is not a mount point in df's view: $mount_point"
[ "$free" -ge 102400 ] || fail "only $free KiB free on /; expected at least 102400"
inodes=$(df -Pi / | awk 'NR == 2 { print $4 }')
case "$inodes" in -|'') echo "the root file system reports no inode count" ;; *) [ "$inodes" -ge 1000 ] || fail "only $inodes inodes free on /" ;; esac
metric disk.root_free_mib $((free / 1024))

base=''
for dir in /var/tmp "${TMPDIR:-}" /tmp; do
  [ -n "$dir" ] && [ -d "$dir" ] && [ -w "$dir" ] && [ "$(fs_type "$dir")" != tmpfs ] && { base=$dir; break; }
done
[ -n "$base" ] || skip "no writable disk-backed folder (/var/tmp, \$TMPDIR and /tmp are tmpfs or read-only); / has $free KiB and ${inodes} inodes free"
size=64
room=$(( $(free_kib "$base") / 4 / 1024 ))
[ "$size" -le "$room" ] || size=$room
[ "$size" -ge 1 ] || fail "$base has no room for a 1 MiB write"
work=$(scratch "$base") || fail "cannot make a folder on $base"
cleanup_on_exit "$work"
written=$(head -c $((size * 1024 * 1024)) /dev/urandom | tee "$work/data" | sha256sum | cut -d' ' -f1)
dd if="$work/data" of="$work/copy" bs=1M conv=fsync 2>&1 | tail -n 1 || fail "dd with fsync to $base failed"
read_back=$(sha256sum "$work/copy" | cut -d' ' -f1)
[ "$read_back" = "$written" ] || fail "$size MiB written with fsync to $base read back with SHA-256 $read_back, written $written"
echo "$size MiB written with fsync to $base ($(fs_type "$base")) and read back: SHA-256 $written"
