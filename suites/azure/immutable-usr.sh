#!/bin/sh
# Azure Container Linux is immutable: /usr is mounted read-only (a write as root fails with EROFS, and leaves
# nothing behind) and no package manager is installed.
set -u
# shellcheck source=lib.sh
. ./lib.sh
problems=0

options=$(findmnt -no OPTIONS --target /usr 2>/dev/null)
source=$(findmnt -no SOURCE,FSTYPE --target /usr 2>/dev/null)
echo "/usr: ${source:-unknown source} ${options:-(findmnt gave no options)}"
case ",$options," in
  *,ro,*) echo "/usr is mounted read-only" ;;
  *,rw,*) echo "/usr is mounted read-write"; problems=$((problems + 1)) ;;
  *) echo "findmnt does not say how /usr is mounted: trying a write" ;;
esac

# A write as root must fail with "Read-only file system"; a file that got written is removed at once.
probe="/usr/.testgrid-write-probe-$$"
# shellcheck disable=SC2016 # $1 is the inner shell's argument, expanded there.
out=$(as_root sh -c 'if : > "$1"; then rm -f "$1"; echo "wrote $1 (removed)"; exit 1; fi' sh "$probe" 2>&1)
code=$?
echo "write to $probe as root: exit $code: $out"
if [ "$code" -eq 1 ] && echo "$out" | grep -q '^wrote '; then
  echo "/usr is writable by root"
  problems=$((problems + 1))
elif echo "$out" | grep -qi 'read-only file system'; then
  echo "the write failed with EROFS"
elif [ -z "$options" ]; then
  echo "the write test was inconclusive and findmnt said nothing"
  problems=$((problems + 1))
else
  echo "the write test was inconclusive (no root): findmnt's answer stands"
fi

# Package managers on PATH, or in the usual folders in case PATH is short over SSH.
for tool in apt-get apt dpkg dnf dnf5 tdnf yum rpm zypper; do
  where=$(command -v "$tool" 2>/dev/null)
  if [ -z "$where" ]; then
    for dir in /usr/bin /usr/sbin /bin /sbin /usr/local/bin /usr/local/sbin; do
      [ -x "$dir/$tool" ] && { where="$dir/$tool"; break; }
    done
  fi
  if [ -n "$where" ]; then
    echo "package manager present: $where"
    problems=$((problems + 1))
  fi
done
[ "$problems" -eq 0 ] || fail "/usr is not immutable or a package manager is present: $problems problem(s), see above"
echo "/usr is read-only and there is no package manager"
