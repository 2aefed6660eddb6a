#!/bin/sh
# /etc/machine-id is a valid id made for this instance, not one every instance of the image shares.
set -u
id=$(cat /etc/machine-id 2>/dev/null)
echo "machine-id: $id"
echo "$id" | grep -Eq '^[0-9a-f]{32}$' || { echo "/etc/machine-id is not a 32-digit hex id"; exit 1; }
boot=$(awk '/^btime/ {print $2}' /proc/stat)
made=$(stat -c %Y /etc/machine-id)
# systemd writes it early in the first boot; an image that ships one has an older file.
[ "$made" -ge "$((boot - 5))" ] || { echo "/etc/machine-id predates this boot: the image ships it"; exit 1; }
