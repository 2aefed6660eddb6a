#!/bin/sh
# The family's package manager works; an immutable family (acl) ships none.
set -u
case "${TESTGRID_FAMILY:-}" in
  acl)
    for tool in apt-get dnf tdnf yum rpm; do
      command -v "$tool" >/dev/null 2>&1 && { echo "$tool is present on an immutable image"; exit 1; }
    done
    echo "no package manager, as expected for $TESTGRID_FAMILY" ;;
  debian | ubuntu)
    apt-get check || exit 1
    dpkg --audit || exit 1
    echo "$(dpkg-query -W | wc -l) packages installed, none half-configured" ;;
  azurelinux | fedora | mariner)
    tool=$(command -v tdnf || command -v dnf) || { echo "neither tdnf nor dnf is present"; exit 1; }
    "$tool" --version || exit 1
    rpm -qa | wc -l ;;
  *)
    echo "no known package manager for family ${TESTGRID_FAMILY:-unset}"
    exit 77 ;;
esac
