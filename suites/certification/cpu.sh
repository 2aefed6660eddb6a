#!/bin/sh
# CPU sanity: the online CPUs (sysfs), nproc and /proc/cpuinfo agree; a model is reported; each CPU computes a known
# sum correctly (one awk worker per CPU at once).
set -u
. ./lib.sh
[ -r /proc/cpuinfo ] || fail "/proc/cpuinfo is not readable"
listed=$(grep -c '^processor[[:space:]]*:' /proc/cpuinfo)
online=''
if [ -r /sys/devices/system/cpu/online ]; then
  # "0-3,5,7-8" → 7
  online=$(tr ',' '\n' < /sys/devices/system/cpu/online | awk -F- 'NF == 2 { n += $2 - $1 + 1; next } NF == 1 && $1 != "" { n++ } END { print n + 0 }')
fi
nproc=$(nproc 2>/dev/null || getconf _NPROCESSORS_ONLN)
echo "CPUs: /proc/cpuinfo lists $listed, sysfs online ${online:-unknown} ($(cat /sys/devices/system/cpu/online 2>/dev/null)), nproc $nproc"
[ "$listed" -gt 0 ] || fail "/proc/cpuinfo lists no processor"
[ -z "$online" ] || [ "$online" -eq "$listed" ] || fail "sysfs has $online CPUs online but /proc/cpuinfo lists $listed"
# nproc honours this process's CPU affinity: a smaller figure means the runner's shell is confined to some CPUs.
[ "$nproc" -eq "$listed" ] || fail "nproc says $nproc but /proc/cpuinfo lists $listed (is the SSH session confined by a cpuset or affinity?)"

model=$(grep -m 1 -E '^(model name|Processor|cpu model|cpu)[[:space:]]*:' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
if [ -z "$model" ] && grep -q '^CPU implementer' /proc/cpuinfo; then
  model="implementer $(grep -m 1 '^CPU implementer' /proc/cpuinfo | cut -d: -f2- | tr -d ' ') part $(grep -m 1 '^CPU part' /proc/cpuinfo | cut -d: -f2- | tr -d ' ')"
fi
[ -n "$model" ] || fail "no CPU model in /proc/cpuinfo"
echo "model: $model"
grep -m 1 '^flags' /proc/cpuinfo | cut -c1-200

# Sum of squares 1..n is n(n+1)(2n+1)/6: every worker must get exactly that (exact in doubles below 2^53).
n=300000
expected=$(awk -v n=$n 'BEGIN { printf "%.0f\n", n * (n + 1) * (2 * n + 1) / 6 }')
work=$(scratch "${TMPDIR:-}" /tmp) || fail "no writable temporary folder"
cleanup_on_exit "$work"
i=0
while [ "$i" -lt "$listed" ] && [ "$i" -lt 256 ]; do
  awk -v n=$n 'BEGIN { s = 0; for (i = 1; i <= n; i++) s += i * i; printf "%.0f\n", s }' > "$work/$i" &
  i=$((i + 1))
done
wait
bad=0
for f in "$work"/*; do
  got=$(cat "$f")
  [ "$got" = "$expected" ] || { echo "worker ${f##*/}: sum of squares to $n = '$got', expected $expected"; bad=$((bad + 1)); }
done
[ "$bad" -eq 0 ] || fail "$bad of $i arithmetic workers computed a wrong result"
echo "$i arithmetic workers agree: sum of squares to $n = $expected"
