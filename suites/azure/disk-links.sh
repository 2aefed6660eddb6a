#!/bin/sh
# The Azure disk links exist: /dev/disk/azure with the OS disk as "root" (WALinuxAgent's udev rules) or "os"
# (azure-vm-utils), pointing at the disk that holds /. Prints the listing.
set -u
dir=/dev/disk/azure
[ -d "$dir" ] || { ls -l /dev/disk 2>/dev/null; echo "$dir does not exist: the image lacks the Azure udev rules"; exit 1; }
ls -lR "$dir"
link=
for name in root os; do
  [ -e "$dir/$name" ] && { link="$dir/$name"; break; }
done
[ -n "$link" ] || { echo "neither $dir/root nor $dir/os exists"; exit 1; }
[ -b "$link" ] || { echo "$link is not a block device"; exit 1; }
disk=$(readlink -f "$link")
echo "$link -> $disk"

# The disk under / (through partitions, LVM, dm-crypt or dm-verity): lsblk lists a device's ancestors with -s.
source=$(findmnt -nvo SOURCE / 2>/dev/null)
if [ -n "$source" ] && [ -b "$source" ] && command -v lsblk >/dev/null 2>&1; then
  disks=$(lsblk -rnso NAME,TYPE "$source" 2>/dev/null | awk '$2 == "disk" { print "/dev/" $1 }' | sort -u | tr '\n' ' ')
  echo "/ is on $source, disk(s): ${disks:-none found}"
  if [ -n "$disks" ]; then
    case " $disks" in
      *" $disk "*) echo "$link is the disk that holds /" ;;
      *) echo "$link points at $disk, but / is on $disks"; exit 1 ;;
    esac
  fi
else
  echo "/ is on ${source:-an unknown device}: its disk is not checked"
fi
echo "the OS disk link $link is present"
