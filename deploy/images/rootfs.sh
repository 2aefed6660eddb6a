#!/usr/bin/env bash
# Build a recipe's root filesystem tarball from Debian packages only, reproducibly
# (fixed suite, SOURCE_DATE_EPOCH), cached under $TESTGRID_CACHE by the recipe's hash.
# Prints the tarball's path. A second call with the same recipe is a cache hit.
#   deploy/images/rootfs.sh debian12-sshd
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=${1:?usage: rootfs.sh RECIPE}
recipe=$(recipe_path "$name")
hash=$(recipe_hash "$name")
out="$cache_root/rootfs/$name-$hash.tar"

if [[ -f $out ]]; then
  echo "rootfs cache hit: $out" >&2
  echo "$out"; exit 0
fi

# shellcheck source=/dev/null
source "$recipe"
command -v mmdebstrap >/dev/null || { echo "mmdebstrap is missing: apt-get install -y mmdebstrap" >&2; exit 3; }
mkdir -p "$cache_root/rootfs"
tmp="$out.partial.$$"
trap 'rm -f "$tmp"' EXIT
start=$(date +%s)
SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH mmdebstrap --quiet --format=tar --mode=root --variant="$VARIANT" --arch="$ARCH" \
  --include="$(echo $PACKAGES | tr ' ' ',')" \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='mkdir -p "$1"/run/sshd' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  "$SUITE" "$tmp" "$MIRROR" >&2
mv "$tmp" "$out"
trap - EXIT
echo "rootfs built in $(( $(date +%s) - start )) s: $out ($(du -h "$out" | cut -f1))" >&2
echo "$out"
