#!/bin/sh
# Memory: MemTotal and MemAvailable are sane; a buffer in memory (a file on a tmpfs: /dev/shm, else $TMPDIR or /tmp
# when they are tmpfs) of up to 1/8 of available memory (at most 256 MiB, half the tmpfs' free space) is written from
# random data and read back twice with the same SHA-256.
set -u
. ./lib.sh
total=$(meminfo MemTotal)
available=$(meminfo MemAvailable)
free=$(meminfo MemFree)
echo "MemTotal ${total:-?} KiB, MemAvailable ${available:-?} KiB, MemFree ${free:-?} KiB"
[ -n "$total" ] && [ "$total" -gt 0 ] || fail "/proc/meminfo has no MemTotal"
[ -n "$available" ] || available=$free
[ -n "$available" ] && [ "$available" -gt 0 ] || fail "/proc/meminfo says no memory is available"
[ "$available" -le "$total" ] || fail "MemAvailable ($available KiB) exceeds MemTotal ($total KiB)"
[ "$total" -ge 262144 ] || fail "MemTotal is only $total KiB (less than 256 MiB)"
metric memory.total_mib $((total / 1024))
metric memory.available_mib $((available / 1024))

base=''
for dir in /dev/shm "${TMPDIR:-}" /tmp; do
  [ -n "$dir" ] && [ -d "$dir" ] && [ -w "$dir" ] && [ "$(fs_type "$dir")" = tmpfs ] && { base=$dir; break; }
done
[ -n "$base" ] || skip "no writable tmpfs (/dev/shm, \$TMPDIR, /tmp) to hold a buffer in memory; MemTotal and MemAvailable are sane"
size=$((available / 8 / 1024))
[ "$size" -le 256 ] || size=256
room=$(( $(free_kib "$base") / 2 / 1024 ))
[ "$size" -le "$room" ] || size=$room
[ "$size" -ge 8 ] || skip "only ${room} MiB usable on $base; too little for a buffer check"
work=$(scratch "$base") || fail "cannot make a folder on $base"
cleanup_on_exit "$work"
echo "buffer: $size MiB on $base ($(fs_type "$base"))"
written=$(head -c $((size * 1024 * 1024)) /dev/urandom | tee "$work/buffer" | sha256sum | cut -d' ' -f1)
[ "$(wc -c < "$work/buffer")" -eq $((size * 1024 * 1024)) ] || fail "the buffer is $(wc -c < "$work/buffer") bytes, expected $((size * 1024 * 1024))"
for pass in 1 2; do
  read_back=$(sha256sum "$work/buffer" | cut -d' ' -f1)
  [ "$read_back" = "$written" ] || fail "read-back $pass of the $size MiB buffer has SHA-256 $read_back, written $written"
done
echo "$size MiB written and read back twice: SHA-256 $written"
