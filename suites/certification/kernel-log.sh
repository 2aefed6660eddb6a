#!/bin/sh
# The kernel log of this boot (dmesg, else journalctl -k -b) has no machine-check or hardware errors, no block I/O
# errors and no file system errors; matches fail the test, quoted (at most 40 lines). A kernel log this user may not
# read (a container without CAP_SYSLOG, dmesg_restrict without sudo) skips with the reason.
set -u
. ./lib.sh
work=$(scratch "${TMPDIR:-}" /tmp) || fail "no writable temporary folder"
cleanup_on_exit "$work"
log="$work/kernel.log"
source=''
if dmesg > "$log" 2> "$work/err" && [ -s "$log" ]; then source=dmesg
elif as_root dmesg > "$log" 2>> "$work/err" && [ -s "$log" ]; then source="sudo dmesg"
elif have journalctl && journalctl -k -b --no-pager -q > "$log" 2>> "$work/err" && [ -s "$log" ]; then source="journalctl -k -b"
elif have journalctl && as_root journalctl -k -b --no-pager -q > "$log" 2>> "$work/err" && [ -s "$log" ]; then source="sudo journalctl -k -b"
fi
if [ -z "$source" ]; then
  skip "the kernel log is not readable here ($(sort -u "$work/err" | tr '\n' ' ' | sed 's/ *$//' | cut -c1-300)): no dmesg, sudo dmesg or journalctl -k"
fi
echo "kernel log: $(wc -l < "$log") lines from $source"
status=0
check() {
  what=$1; shift
  if grep -E "$@" "$log" > "$work/hits" 2>/dev/null; then
    echo "$what ($(wc -l < "$work/hits") lines):"
    head -n 40 "$work/hits" | cut -c1-300 | sed 's/^/  /'
    status=1
  fi
}
check "machine-check / hardware errors" -i -e 'Machine check events logged' -e 'Machine Check Exception' -e '\[Hardware Error\]' -e 'Hardware Error' -e 'mce: .*(error|panic)'
check "I/O errors" -e 'I/O error' -e 'blk_update_request' -e 'critical medium error' -i
check "file system errors" -e 'EXT4-fs error' -e 'XFS .*([Cc]orrupt|metadata I/O error)' -e 'BTRFS (error|critical)'
[ "$status" -eq 0 ] || fail "the kernel log reports hardware, I/O or file system errors (above)"
echo "no machine-check, I/O or file system errors in the kernel log"
