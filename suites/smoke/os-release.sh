#!/bin/sh
# /etc/os-release names the OS, and its ID (or ID_LIKE) matches the image's family.
set -eu
file=/etc/os-release
[ -r "$file" ] || file=/usr/lib/os-release
[ -r "$file" ] || { echo "neither /etc/os-release nor /usr/lib/os-release is readable"; exit 1; }
. "$file"
echo "ID=${ID:-} VERSION_ID=${VERSION_ID:-} PRETTY_NAME=${PRETTY_NAME:-}"
[ -n "${ID:-}" ] || { echo "os-release has no ID"; exit 1; }
[ -n "${PRETTY_NAME:-}" ] || { echo "os-release has no PRETTY_NAME"; exit 1; }
family=${TESTGRID_FAMILY:-}
case "$family" in
  acl) expected="flatcar acl" ;;   # Azure Container Linux is Flatcar-derived
  *) expected=$family ;;
esac
for id in $ID ${ID_LIKE:-}; do
  for want in $expected; do
    [ "$id" = "$want" ] && { echo "family $family matches ID $ID"; exit 0; }
  done
done
echo "the image's family is '$family' but os-release says ID=$ID ID_LIKE=${ID_LIKE:-}"
exit 1
