#!/bin/sh
# Nothing listens on the network but SSH (TCP 22): services for the machine itself bind to loopback. A DHCP client's
# own socket (UDP 68, or 546 for DHCPv6) is not a service and is allowed.
set -u
listeners=$(ss -Hltnu 2>/dev/null | awk '{print $1, $5}')
echo "$listeners"
exposed=$(echo "$listeners" | awk '{n = split($2, a, ":"); port = a[n]; host = substr($2, 1, length($2) - length(port) - 1)
  if (host ~ /^(127\.|\[::1\]|::1)/) next
  if ($1 == "tcp" && port == 22) next
  if ($1 == "udp" && (port == 68 || port == 546)) next
  print}')
[ -z "$exposed" ] || { echo "listening beyond loopback, other than SSH:"; echo "$exposed"; exit 1; }
