# Shared by the image scripts: cache location and the recipe's content hash.
# shellcheck shell=bash
set -euo pipefail

images_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cache_root=${TESTGRID_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/testgrid}

# recipe_path NAME -> recipes/NAME.conf, or an error naming what exists.
recipe_path() {
  local path="$images_dir/recipes/$1.conf"
  if [[ ! -f $path ]]; then
    echo "unknown recipe '$1'; recipes: $(cd "$images_dir/recipes" && ls -- *.conf | sed 's/\.conf$//' | tr '\n' ' ')" >&2
    return 3
  fi
  echo "$path"
}

# recipe_hash NAME -> 16 hex digits over the recipe and every script that builds from it.
recipe_hash() {
  local path; path=$(recipe_path "$1")
  cat "$path" "$images_dir/lib.sh" "$images_dir/rootfs.sh" | sha256sum | cut -c1-16
}
