#!/bin/sh
# The SSH host keys were generated for this instance: after it booted, so not shipped in the image.
set -u
boot=$(awk '/^btime/ {print $2}' /proc/stat)
found=0
for key in /etc/ssh/ssh_host_*_key; do
  [ -f "$key" ] || continue
  found=1
  made=$(stat -c %Y "$key")
  echo "$key made $(date -u -d "@$made" '+%FT%TZ'), boot $(date -u -d "@$boot" '+%FT%TZ')"
  [ "$made" -ge "$((boot - 5))" ] || { echo "$key is older than this boot: it came with the image, so every instance shares it"; exit 1; }
done
[ "$found" -eq 1 ] || { echo "no host keys in /etc/ssh"; exit 1; }
