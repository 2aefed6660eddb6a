#!/bin/sh
# A short combined stress (~20 s; TESTGRID_STRESS_SECONDS, at most 300): every CPU busy with checksums, memory churned
# through a buffer in a tmpfs, and the disk written with fsync and read back — all at once; every checksum must match.
# With stress-ng installed, it drives CPUs and memory (with --verify) instead of the shell workers.
# Metrics: stress.cpu_mib_s (checksummed MiB/s over all CPUs) and stress.memory_passes from the shell workers, or
# stress.cpu_bogo_ops_s and stress.vm_bogo_ops_s from stress-ng; stress.disk_write_mib_s and stress.disk_read_mib_s.
set -u
. ./lib.sh
seconds=${TESTGRID_STRESS_SECONDS:-20}
case "$seconds" in ''|*[!0-9]*) seconds=20 ;; esac
[ "$seconds" -ge 5 ] || seconds=5
[ "$seconds" -le 300 ] || seconds=300
cpus=$(nproc 2>/dev/null || grep -c '^processor' /proc/cpuinfo)
[ "$cpus" -le 256 ] || cpus=256
available=$(meminfo MemAvailable)
[ -n "$available" ] || available=$(meminfo MemFree)

disk_base=''
for dir in /var/tmp "${TMPDIR:-}" /tmp; do
  [ -n "$dir" ] && [ -d "$dir" ] && [ -w "$dir" ] && { disk_base=$dir; break; }
done
[ -n "$disk_base" ] || fail "no writable temporary folder"
mem_base=''
for dir in /dev/shm "${TMPDIR:-}" /tmp; do
  [ -n "$dir" ] && [ -d "$dir" ] && [ -w "$dir" ] && [ "$(fs_type "$dir")" = tmpfs ] && { mem_base=$dir; break; }
done
work=$(scratch "$disk_base") || fail "cannot make a folder on $disk_base"
memwork=''
if [ -n "$mem_base" ]; then memwork=$(scratch "$mem_base") || memwork=''; fi
cleanup_on_exit "$work" $memwork

start=$(uptime_cs)
deadline=$((start + seconds * 100))
echo "stress for $seconds s: $cpus CPU workers, memory in ${memwork:-nothing (no tmpfs)}, disk in $work ($(fs_type "$disk_base"))"

# CPU: each worker checksums the same 4 MiB of random data over and over; every sum must equal the first.
head -c 4194304 /dev/urandom > "$work/block"
reference=$(cksum < "$work/block")
if have stress-ng; then
  vm_mib=$(( ${available:-262144} / 1024 / 8 ))
  [ "$vm_mib" -le 1024 ] || vm_mib=1024
  echo "stress-ng: --cpu $cpus --vm 1 --vm-bytes ${vm_mib}M --verify"
  stress-ng --cpu "$cpus" --vm 1 --vm-bytes "${vm_mib}M" --verify --timeout "${seconds}s" --metrics-brief > "$work/stress-ng.log" 2>&1 &
  ng=$!; pids="$pids $ng"
else
  ng=''
  i=0
  while [ "$i" -lt "$cpus" ]; do
    (
      rounds=0
      while [ "$(uptime_cs)" -lt "$deadline" ]; do
        sum=$(cksum < "$work/block")
        [ "$sum" = "$reference" ] || { echo "bad $rounds: $sum"; exit 1; }
        rounds=$((rounds + 1))
      done
      echo "ok $rounds"
    ) > "$work/cpu-$i" 2>&1 &
    pids="$pids $!"
    i=$((i + 1))
  done
  # Memory: a buffer of 1/16 of available memory (at most 256 MiB, half the tmpfs) rewritten and verified until the deadline.
  if [ -n "$memwork" ]; then
    mib=$(( ${available:-0} / 1024 / 16 ))
    [ "$mib" -le 256 ] || mib=256
    room=$(( $(free_kib "$mem_base") / 2 / 1024 ))
    [ "$mib" -le "$room" ] || mib=$room
    if [ "$mib" -ge 4 ]; then
      (
        passes=0
        while [ "$(uptime_cs)" -lt "$deadline" ]; do
          want=$(head -c $((mib * 1024 * 1024)) /dev/urandom | tee "$memwork/buffer" | cksum)
          got=$(cksum < "$memwork/buffer")
          [ "$got" = "$want" ] || { echo "bad pass $passes: wrote $want, read $got"; exit 1; }
          passes=$((passes + 1))
        done
        echo "ok $passes ${mib}"
      ) > "$work/memory" 2>&1 &
      pids="$pids $!"
    fi
  fi
fi

# Disk: 64 MiB (less on a small disk) written with fsync, read back and compared, until the deadline.
mib=64
room=$(( $(free_kib "$disk_base") / 4 / 1024 ))
[ "$mib" -le "$room" ] || mib=$room
[ "$mib" -ge 1 ] || fail "$disk_base has no room for the disk stress"
i=0
while [ "$i" -lt $((mib / 4)) ] || [ "$i" -eq 0 ]; do cat "$work/block"; i=$((i + 1)); done | head -c $((mib * 1024 * 1024)) > "$work/source"
want=$(cksum < "$work/source")
write_cs=0; read_cs=0; rounds=0
while [ "$(uptime_cs)" -lt "$deadline" ] || [ "$rounds" -eq 0 ]; do
  t0=$(uptime_cs)
  dd if="$work/source" of="$work/disk" bs=1M conv=fsync 2>/dev/null || fail "dd with fsync to $work failed"
  t1=$(uptime_cs)
  got=$(cksum < "$work/disk")
  t2=$(uptime_cs)
  [ "$got" = "$want" ] || fail "disk round $rounds: wrote $want, read back $got"
  write_cs=$((write_cs + t1 - t0)); read_cs=$((read_cs + t2 - t1)); rounds=$((rounds + 1))
  rm -f "$work/disk"
done
failed=0
if [ -n "$ng" ]; then wait "$ng" || { echo "stress-ng exited $? (a stressor failed or its --verify found an error)"; failed=1; }; fi
wait
pids=''
elapsed_cs=$(( $(uptime_cs) - start ))

if [ -n "$ng" ]; then
  tail -n 20 "$work/stress-ng.log"
  for stressor in cpu vm; do
    rate=$(awk -v s="$stressor" '$2 == "metrc:" && $4 == s && $9 ~ /^[0-9.]+$/ { printf "%d\n", $9; exit }' "$work/stress-ng.log")
    [ -z "$rate" ] || metric "stress.${stressor}_bogo_ops_s" "$rate"
  done
else
  total_rounds=0
  for f in "$work"/cpu-*; do
    read -r state rounds_done rest < "$f" || state=missing
    [ "$state" = ok ] || { echo "CPU worker ${f##*/}: $state ${rounds_done:-} ${rest:-}"; failed=1; continue; }
    total_rounds=$((total_rounds + rounds_done))
  done
  metric stress.cpu_mib_s $(( total_rounds * 4 * 100 / (elapsed_cs > 0 ? elapsed_cs : 1) ))
  if [ -f "$work/memory" ]; then
    read -r state passes mem_mib < "$work/memory" || state=missing
    [ "$state" = ok ] || { echo "memory worker: $state ${passes:-} ${mem_mib:-}"; failed=1; }
    [ "$state" = ok ] && { echo "memory: $passes passes over $mem_mib MiB"; metric stress.memory_passes "$passes"; }
  fi
fi
metric stress.disk_write_mib_s $(( mib * rounds * 100 / (write_cs > 0 ? write_cs : 1) ))
metric stress.disk_read_mib_s $(( mib * rounds * 100 / (read_cs > 0 ? read_cs : 1) ))
echo "disk: $rounds rounds of $mib MiB written with fsync and read back"
[ "$failed" -eq 0 ] || fail "the stress found errors (above)"
echo "stress: $((elapsed_cs / 100)) s on $cpus CPUs, memory and disk; every checksum matched"
