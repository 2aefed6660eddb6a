#!/usr/bin/env bash
# Start N local SSH hosts for the static provider: containers of the debian12-sshd image with host networking,
# sshd bound to 127.0.0.1 on a free port, a fresh host key and client key each. Writes hosts.json (an inventory
# with pinned host key fingerprints) and prints its path. SKU labels alternate local-1c / local-2c.
#   deploy/local-hosts/up.sh [N=2]
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
count=${1:-2}
image=$("$repo/deploy/images/docker-image.sh" debian12-sshd)
"$(dirname "${BASH_SOURCE[0]}")/down.sh" >/dev/null
mkdir -p "$state"
# Containers expire after 12 h; down.sh and the test suite's sweep remove expired ones.
expires=$(date -u -d '+12 hours' +%Y-%m-%dT%H:%M:%SZ)

port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
port=22200
entries=()
for i in $(seq 1 "$count"); do
  while ! port_free "$port"; do port=$((port + 1)); done
  dir="$state/host-$i"
  rm -rf "$dir"; mkdir -p "$dir"
  ssh-keygen -q -t ed25519 -N '' -C "testgrid-host-$i" -f "$dir/ssh_host_ed25519_key"
  ssh-keygen -q -t ed25519 -N '' -C "testgrid-client-$i" -f "$dir/client_key"
  cp "$dir/client_key.pub" "$dir/authorized_keys"
  sed "s/@PORT@/$port/" "$(dirname "${BASH_SOURCE[0]}")/sshd_config.in" > "$dir/sshd_config"
  chmod 600 "$dir"/*
  docker run -d --name "testgrid-host-$i" --network host --label "$label=1" --label "testgrid.expires-at=$expires" \
    -v "$dir:/etc/testgrid:ro" "$image" \
    sh -c 'mkdir -p /run/sshd && exec /usr/sbin/sshd -D -e -f /etc/testgrid/sshd_config' >/dev/null
  fingerprint=$(ssh-keygen -l -E sha256 -f "$dir/ssh_host_ed25519_key.pub" | awk '{print $2}')
  sku=$([ $((i % 2)) -eq 1 ] && echo local-1c || echo local-2c)
  entries+=("    { \"name\": \"host-$i\", \"address\": \"127.0.0.1\", \"port\": $port, \"user\": \"root\", \"privateKey\": \"host-$i/client_key\", \"hostKey\": \"$fingerprint\", \"arch\": \"x64\", \"sku\": \"$sku\" }")
  port=$((port + 1))
done
{
  echo '{'
  echo '  "hosts": ['
  (IFS=$'\n'; echo "${entries[*]}" | sed '$!s/$/,/')
  echo '  ]'
  echo '}'
} > "$state/hosts.json"
# Wait until every sshd answers with its banner.
for i in $(seq 1 "$count"); do
  p=$(grep -o '"port": [0-9]*' "$state/hosts.json" | sed -n "${i}p" | awk '{print $2}')
  for _ in $(seq 1 50); do
    if banner=$(timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$p && head -c 4 <&3" 2>/dev/null) && [ "$banner" = "SSH-" ]; then break; fi
    sleep 0.2
  done
done
echo "$state/hosts.json"
