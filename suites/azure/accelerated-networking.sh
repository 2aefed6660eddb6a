#!/bin/sh
# When the cell's SKU has the accelerated-networking feature (TESTGRID_SKU_FEATURES, space-separated), a Mellanox
# (mlx4/mlx5) or MANA virtual function is present and paired with the synthetic hv_netvsc interface, which sends
# through it. SKUs without the feature skip.
set -u
# shellcheck source=lib.sh
. ./lib.sh
features=${TESTGRID_SKU_FEATURES-unset}
sku=${TESTGRID_SKU:-this SKU}
[ "$features" = unset ] && skip "TESTGRID_SKU_FEATURES is not set: the runner did not say whether $sku has accelerated networking"
case " $features " in
  *" accelerated-networking "*) ;;
  *) skip "$sku lacks the accelerated-networking feature (features: ${features:-none})" ;;
esac

driver_of() { d=$(readlink "/sys/class/net/$1/device/driver" 2>/dev/null) && echo "${d##*/}"; }

# Pairs "vf synthetic" of VFs (mlx4_core, mlx5_core, mana) whose master is an hv_netvsc interface.
pairs() {
  for path in /sys/class/net/*; do
    vf=${path##*/}
    case "$(driver_of "$vf")" in
      mlx4_core | mlx5_core | mana) ;;
      *) continue ;;
    esac
    master=$(readlink "$path/master" 2>/dev/null) || continue
    master=${master##*/}
    [ "$(driver_of "$master")" = hv_netvsc ] && echo "$vf $master"
  done
}

# The VF is hot-added by the host and may come a little after boot: wait up to a minute.
tries=0
while :; do
  found=$(pairs)
  [ -n "$found" ] && break
  tries=$((tries + 1))
  [ "$tries" -ge 12 ] && break
  sleep 5
done

echo "interfaces:"
for path in /sys/class/net/*; do
  name=${path##*/}
  [ "$name" = lo ] && continue
  master=$(readlink "$path/master" 2>/dev/null)
  echo "  $name: driver $(driver_of "$name" || echo none)${master:+, master ${master##*/}}, $(cat "$path/operstate" 2>/dev/null)"
done
have lspci && lspci 2>/dev/null | grep -iE 'mellanox|microsoft.*(mana|network)'

[ -n "$found" ] || fail "no Mellanox (mlx4/mlx5) or MANA virtual function paired with an hv_netvsc interface, though $sku has accelerated networking"
echo "$found" | while read -r vf synthetic; do
  echo "VF $vf ($(driver_of "$vf")) is paired with $synthetic (hv_netvsc)"
  have ethtool && ethtool -i "$vf" 2>/dev/null | grep -E '^(driver|version|firmware-version|bus-info):'
  # netvsc counts what went through the VF: traffic on the synthetic interface should mostly show here.
  have ethtool && ethtool -S "$synthetic" 2>/dev/null | grep -E 'vf_(rx|tx)_(packets|bytes):'
done
echo "accelerated networking is on"
