#!/bin/sh
# sshd's effective configuration refuses password and keyboard-interactive logins.
set -u
config=$(sshd -T 2>&1) || { echo "sshd -T failed: $config"; exit 1; }
echo "$config" | grep -E '^(passwordauthentication|kbdinteractiveauthentication|challengeresponseauthentication) '
bad=$(echo "$config" | grep -E '^(passwordauthentication|kbdinteractiveauthentication) yes')
[ -z "$bad" ] || { echo "sshd accepts: $bad"; exit 1; }
