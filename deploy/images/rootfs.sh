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
hooks=()
if [[ -n ${HOOK:-} ]]; then
  hooks=(--setup-hook="$images_dir/hooks/$HOOK.sh setup \"\$1\"" --customize-hook="$images_dir/hooks/$HOOK.sh customize \"\$1\"")
fi
if [[ $ARCH != "$(dpkg --print-architecture)" ]]; then
  # A foreign architecture's maintainer scripts run through qemu-user (qemu-user-static, binfmt-support).
  [[ -e /proc/sys/fs/binfmt_misc/qemu-${ARCH/arm64/aarch64} ]] || {
    echo "building for $ARCH needs qemu-user binfmt: apt-get install -y qemu-user-static binfmt-support;" \
         "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; update-binfmts --enable qemu-${ARCH/arm64/aarch64}" >&2
    exit 3
  }
fi
mkdir -p "$cache_root/rootfs"
tmp="$out.partial.$$"
trap 'rm -f "$tmp"' EXIT
start=$(date +%s)
# No documentation, manual pages or translations are unpacked, and dpkg skips fsync: fewer writes, and far less
# work under qemu-user for a foreign arch.
SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH mmdebstrap --quiet --format=tar --mode=root --variant="$VARIANT" --arch="$ARCH" \
  --dpkgopt=force-unsafe-io \
  --dpkgopt='path-exclude=/usr/share/doc/*' --dpkgopt='path-include=/usr/share/doc/*/copyright' \
  --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
  --dpkgopt='path-exclude=/usr/share/locale/*' --dpkgopt='path-include=/usr/share/locale/locale.alias' \
  --include="$(echo $PACKAGES | tr ' ' ',')" \
  --customize-hook='rm -f "$1"/etc/ssh/ssh_host_*' \
  --customize-hook='mkdir -p "$1"/run/sshd' \
  --customize-hook='rm -rf "$1"/var/lib/apt/lists/* "$1"/var/cache/apt/*' \
  "${hooks[@]}" \
  "$SUITE" "$tmp" "$MIRROR" >&2
mv "$tmp" "$out"
trap - EXIT
echo "rootfs built in $(( $(date +%s) - start )) s: $out ($(du -h "$out" | cut -f1))" >&2
echo "$out"
