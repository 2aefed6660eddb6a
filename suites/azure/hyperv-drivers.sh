#!/bin/sh
# The Hyper-V guest drivers are loaded or built in: hv_vmbus (the VMBus), hv_netvsc (network), hv_storvsc (storage)
# and hv_utils (shutdown, time sync, heartbeat, KVP). Prints where each was found and the devices bound to it.
set -u
release=$(uname -r)
builtin=/lib/modules/$release/modules.builtin
missing=
for driver in hv_vmbus hv_netvsc hv_storvsc hv_utils; do
  where=
  [ -d "/sys/module/$driver" ] && where="/sys/module/$driver"
  if [ -d "/sys/bus/vmbus/drivers/$driver" ]; then
    devices=$(find "/sys/bus/vmbus/drivers/$driver" -mindepth 1 -maxdepth 1 -type l ! -name module | wc -l)
    where="$where /sys/bus/vmbus/drivers/$driver ($devices devices bound)"
  fi
  [ "$driver" = hv_vmbus ] && [ -d /sys/bus/vmbus ] && where="$where /sys/bus/vmbus ($(find /sys/bus/vmbus/devices -mindepth 1 -maxdepth 1 | wc -l) devices)"
  if [ -r "$builtin" ] && grep -q "/$driver\.ko" "$builtin"; then
    where="$where (built in)"
  elif [ -d "/sys/module/$driver" ]; then
    where="$where (module)"
  fi
  if [ -n "$where" ]; then
    echo "$driver: $where"
  else
    echo "$driver: not found"
    missing="$missing $driver"
  fi
done
if [ -n "$missing" ]; then
  present=
  for path in /sys/bus/vmbus/drivers/*; do
    [ -e "$path" ] && present="$present ${path##*/}"
  done
  echo "kernel $release; vmbus drivers present:${present:- none (no /sys/bus/vmbus: not a Hyper-V guest?)}"
  echo "Hyper-V drivers missing:$missing"
  exit 1
fi
echo "all Hyper-V guest drivers are present"
