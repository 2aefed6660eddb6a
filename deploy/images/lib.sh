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

# recipe_hash NAME -> 16 hex digits over the recipe and every script and file that builds from it
# (lib.sh, rootfs.sh, and the recipe's HOOK: hooks/HOOK.sh with the files in hooks/HOOK/).
recipe_hash() {
  local path hook; path=$(recipe_path "$1")
  hook=$(sed -n 's/^HOOK=//p' "$path")
  {
    cat "$path" "$images_dir/lib.sh" "$images_dir/rootfs.sh"
    if [[ -n $hook ]]; then
      cat "$images_dir/hooks/$hook.sh"
      find "$images_dir/hooks/$hook" -type f | LC_ALL=C sort | while read -r f; do echo "${f#"$images_dir"/}"; cat "$f"; done
    fi
  } | sha256sum | cut -c1-16
}
