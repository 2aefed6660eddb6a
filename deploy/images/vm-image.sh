#!/usr/bin/env bash
# Make a recipe's bootable VM image for the QEMU provider: the root filesystem (rootfs.sh, cached) as an ext4 disk in
# qcow2, with the kernel and initramfs beside it for direct kernel boot, and image.json describing them. Cached in
# $TESTGRID_CACHE/images/RECIPE-HASH/ by the hash of the recipe and of this script. Prints that folder.
#   deploy/images/vm-image.sh debian12-vm-amd64          # build if missing
#   deploy/images/vm-image.sh --hash debian12-vm-amd64   # only print the hash (what a cell id is made of)
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

hash_only=false
if [[ ${1:-} == --hash ]]; then hash_only=true; shift; fi
name=${1:?usage: vm-image.sh [--hash] RECIPE}
hash=$( { recipe_hash "$name"; cat "$images_dir/vm-image.sh"; } | sha256sum | cut -c1-16)
if $hash_only; then echo "$hash"; exit 0; fi

out="$cache_root/images/$name-$hash"
if [[ -f $out/image.json ]]; then
  echo "vm image cache hit: $out" >&2
  echo "$out"; exit 0
fi
for tool in mkfs.ext4 qemu-img; do
  command -v $tool >/dev/null || { echo "$tool is missing: apt-get install -y e2fsprogs qemu-utils" >&2; exit 3; }
done

start=$(date +%s)
tarball=$("$images_dir/rootfs.sh" "$name")
# shellcheck source=/dev/null
source "$(recipe_path "$name")"
work=$(mktemp -d "${TMPDIR:-/tmp}/testgrid-vm-image.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir "$work/root" "$work/out"
tar --numeric-owner -xpf "$tarball" -C "$work/root"
cp "$(ls "$work"/root/boot/vmlinuz-* | head -n 1)" "$work/out/vmlinuz"
cp "$(ls "$work"/root/boot/initrd.img-* | head -n 1)" "$work/out/initrd.img"
# The root filesystem with 1 GiB to spare for tests.
size_mib=$(( $(du -sm "$work/root" | cut -f1) + 1024 ))
mkfs.ext4 -q -L root -d "$work/root" "$work/disk.raw" "${size_mib}M"
# Compressed: the file is a third of the size; reads decompress, which costs a guest well under a second of boot.
qemu-img convert -c -O qcow2 "$work/disk.raw" "$work/out/disk.qcow2"
case $ARCH in
  amd64) arch=x64; console=ttyS0 ;;
  arm64) arch=arm64; console=ttyAMA0 ;;
  *) echo "unknown ARCH $ARCH in recipe $name" >&2; exit 3 ;;
esac
cat > "$work/out/image.json" <<JSON
{ "recipe": "$name", "hash": "$hash", "arch": "$arch", "disk": "disk.qcow2", "kernel": "vmlinuz", "initrd": "initrd.img",
  "append": "root=/dev/vda rw console=$console" }
JSON
mkdir -p "$cache_root/images"
rm -rf "$out"
mv "$work/out" "$out"
echo "vm image built in $(( $(date +%s) - start )) s: $out ($(du -sh "$out" | cut -f1))" >&2
echo "$out"
