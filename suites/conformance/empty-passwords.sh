#!/bin/sh
# No account has an empty password (which would let anyone in where passwords are accepted).
set -u
[ -r /etc/shadow ] || { echo "/etc/shadow is not readable"; exit 1; }
empty=$(awk -F: '$2 == "" {print $1}' /etc/shadow)
[ -z "$empty" ] || { echo "accounts with an empty password: $empty"; exit 1; }
echo "$(wc -l < /etc/shadow) accounts, none with an empty password"
