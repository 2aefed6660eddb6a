#!/bin/sh
# Azure Linux's package manager works: tdnf (or dnf) runs, lists its enabled repositories, refreshes their metadata
# from the network (bounded, 120 s), and rpm verifies a core package (bash) unchanged.
set -u
# shellcheck source=lib.sh
. ./lib.sh
tool=
for candidate in tdnf dnf dnf5; do
  have "$candidate" && { tool=$candidate; break; }
done
[ -n "$tool" ] || fail "neither tdnf nor dnf is installed"
echo "== $tool --version"
version=$("$tool" --version 2>&1)
code=$?
echo "$version" | head -n 5
[ "$code" -eq 0 ] || fail "$tool --version failed (exit $code)"

echo "== $tool repolist"
# dnf lists repositories for anyone; tdnf may want root.
repos=$("$tool" repolist 2>&1)
code=$?
if [ "$code" -ne 0 ] && can_root; then
  repos=$(as_root "$tool" repolist 2>&1)
  code=$?
fi
echo "$repos"
[ "$code" -eq 0 ] || fail "$tool repolist failed (exit $code)"
# Both print a header line ("repo id  repo name  status") and then one line per enabled repository.
count=$(echo "$repos" | grep -Evi '^(repo id|loaded plugin|refreshing|$)' | grep -c .)
[ "$count" -gt 0 ] || fail "$tool lists no enabled repository"

echo "== $tool makecache"
can_root || fail "not root, and sudo asks for a password: cannot refresh the system's package cache"
out=$(as_root timeout 120 "$tool" -y makecache 2>&1)
code=$?
echo "$out" | tail -n 20
[ "$code" -eq 124 ] && fail "$tool makecache did not finish within 120 s (are the repositories reachable?)"
[ "$code" -eq 0 ] || fail "$tool makecache failed (exit $code): the repositories' metadata could not be fetched"

echo "== rpm"
have rpm || fail "rpm is missing"
echo "$(rpm -qa | wc -l) packages installed; $(rpm -q bash)"
changes=$(rpm -V bash 2>&1)
code=$?
if [ -n "$changes" ] || [ "$code" -ne 0 ]; then
  echo "$changes"
  fail "rpm -V bash reports changes (exit $code)"
fi
echo "rpm -V bash: no changes"
echo "$tool works"
