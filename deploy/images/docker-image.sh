#!/usr/bin/env bash
# Import a recipe's root filesystem into the local Docker engine as testgrid/RECIPE:HASH
# (no registry is involved). Prints the image reference. Idempotent.
#   deploy/images/docker-image.sh debian12-sshd
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

name=${1:?usage: docker-image.sh RECIPE}
ref="testgrid/$name:$(recipe_hash "$name")"
if docker image inspect "$ref" >/dev/null 2>&1; then
  echo "docker image cache hit: $ref" >&2
else
  tarball=$("$images_dir/rootfs.sh" "$name")
  docker import --change 'CMD ["/usr/sbin/sshd", "-D", "-e"]' "$tarball" "$ref" >&2
fi
echo "$ref"
