# shellcheck shell=sh
# Helpers shared by the certification suite's scripts. Sourced (". ./lib.sh"), never run as a test.
# The machine is a partner's: scripts write only under their own scratch folder (removed on exit, also on a signal),
# bound their time and their output, and change nothing else.

have() { command -v "$1" >/dev/null 2>&1; }

# skip REASON / fail REASON: end the test; the last line printed is the reason.
skip() { echo "$*"; exit 77; }
fail() { echo "$*"; exit 1; }

# as_root CMD...: CMD directly when root, else through sudo without a prompt; status 126 when neither works.
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif have sudo; then sudo -n "$@"
  else return 126
  fi
}

# metric NAME VALUE: one figure for the runner ($TESTGRID_METRICS), also echoed for the log.
metric() {
  echo "metric $1 = $2"
  [ -n "${TESTGRID_METRICS:-}" ] && echo "$1 $2" >> "$TESTGRID_METRICS"
  return 0
}

# uptime_cs: seconds since boot in hundredths (/proc/uptime), a clock that works without GNU date.
uptime_cs() { awk '{ printf "%d\n", $1 * 100 }' /proc/uptime; }

# fs_type DIR: the file system type of DIR (tmpfs, ext4, …).
fs_type() { df -PT "$1" 2>/dev/null | awk 'NR == 2 { print $2 }'; }

# free_kib DIR: the KiB free on DIR's file system.
free_kib() { df -Pk "$1" 2>/dev/null | awk 'NR == 2 { print $4 }'; }

# scratch DIR...: makes a private folder under the first DIR that is writable (mktemp), removed on exit; prints it.
# Call as: work=$(scratch /var/tmp) && cleanup_on_exit "$work"
scratch() {
  for base in "$@"; do
    [ -n "$base" ] && [ -d "$base" ] && [ -w "$base" ] || continue
    mktemp -d "$base/testgrid-cert.XXXXXX" 2>/dev/null && return 0
  done
  return 1
}

# cleanup_on_exit DIR...: removes the DIRs and stops the background jobs listed in $pids when the script ends or is signalled.
pids=''
cleanup_on_exit() {
  _cleanup_dirs="$*"
  trap 'for p in $pids; do kill "$p" 2>/dev/null; done; for d in $_cleanup_dirs; do rm -rf "$d"; done' EXIT
  trap 'exit 143' TERM INT HUP
}

# meminfo FIELD: a /proc/meminfo field in KiB.
meminfo() { awk -v f="$1:" '$1 == f { print $2; exit }' /proc/meminfo; }
