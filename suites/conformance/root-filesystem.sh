#!/bin/sh
# / is mounted read-write, is ext4, xfs or btrfs, and has at least 10% or 500 MiB free.
set -u
line=$(awk '$2 == "/" {print $3, $4}' /proc/mounts | tail -n 1)
type=${line%% *}
options=${line#* }
echo "/ is $type ($options)"
case "$type" in ext4 | xfs | btrfs) ;; *) echo "unexpected root filesystem type $type"; exit 1 ;; esac
case ",$options," in *,rw,*) ;; *) echo "/ is not mounted read-write"; exit 1 ;; esac
set -- $(df -Pk / | awk 'NR == 2 {print $2, $4}')
size=$1 free=$2
echo "$free KiB free of $size"
[ "$free" -ge 512000 ] || [ $((free * 10)) -ge "$size" ] || { echo "too little free space on /"; exit 1; }
