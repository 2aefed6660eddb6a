#!/bin/sh
# TestGrid hardware collector: piped to `sh -s` over SSH (as root or a user). Prints what the machine says of its
# hardware, one fact a line: `key<TAB>value`, or `disk|nic|pci<TAB>field<TAB>…` for devices. Reads only /proc, /sys
# and /etc; uses lsblk, ethtool and dmidecode only when installed. What cannot be read is left out, never guessed.
# Writes nothing. Bounded: every value is one line of at most 256 bytes, at most 256 of each kind of device.
export LC_ALL=C
PATH=$PATH:/usr/sbin:/sbin
have() { command -v "$1" >/dev/null 2>&1; }
# clean: the first line of stdin, tabs and control characters as spaces, trimmed, at most 256 bytes.
clean() { head -n 1 | head -c 256 | tr '\t\r\000-\037' ' ' | sed 's/^ *//; s/ *$//'; }
# emit KEY VALUE: one fact, when VALUE is not empty.
emit() { [ -n "$2" ] && printf '%s\t%s\n' "$1" "$2"; return 0; }
# file KEY PATH: the first line of PATH as fact KEY, when readable.
file() { [ -r "$2" ] && emit "$1" "$(clean < "$2" 2>/dev/null)"; return 0; }
# value PATH: the first line of PATH, cleaned; empty when unreadable.
value() { [ -r "$1" ] && clean < "$1" 2>/dev/null; return 0; }

echo "collector	1"
# CPU: the model (x86 'model name'; arm64 'Processor' or implementer/part), and the logical CPUs the kernel lists.
model=$(grep -m 1 -E '^(model name|Processor|cpu model|cpu)[[:space:]]*:' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | clean)
if [ -z "$model" ] && grep -q '^CPU implementer' /proc/cpuinfo 2>/dev/null; then
  model="implementer $(grep -m 1 '^CPU implementer' /proc/cpuinfo | cut -d: -f2- | clean) part $(grep -m 1 '^CPU part' /proc/cpuinfo | cut -d: -f2- | clean)"
fi
if [ -z "$model" ] && have lscpu; then model=$(lscpu 2>/dev/null | grep -m 1 '^Model name:' | cut -d: -f2- | clean); fi
emit cpu_model "$model"
emit cpus "$(grep -c '^processor[[:space:]]*:' /proc/cpuinfo 2>/dev/null)"
file cpus_online /sys/devices/system/cpu/online
emit mem_total_kib "$(awk '/^MemTotal:/ {print $2; exit}' /proc/meminfo 2>/dev/null)"

# Firmware and system identity (DMI through sysfs; serials are root-only there, then dmidecode when installed and allowed).
dmi=/sys/class/dmi/id
for pair in bios_vendor:bios-vendor bios_version:bios-version bios_date:bios-release-date sys_vendor:system-manufacturer \
            product_name:system-product-name product_serial:system-serial-number product_uuid:system-uuid \
            board_vendor:baseboard-manufacturer board_name:baseboard-product-name board_serial:baseboard-serial-number \
            chassis_serial:chassis-serial-number chassis_asset_tag:chassis-asset-tag; do
  key=${pair%%:*}
  v=$(value "$dmi/$key")
  if [ -z "$v" ] && [ -e "$dmi" ] && have dmidecode && [ "$(id -u)" -eq 0 ]; then
    v=$(dmidecode -s "${pair#*:}" 2>/dev/null | grep -v '^#' | clean)
  fi
  emit "$key" "$v"
done
file device_tree_model /proc/device-tree/model
file device_tree_serial /proc/device-tree/serial-number

# Disks: whole block devices that are hardware (not loop, ram, zram, device-mapper, md, optical, nbd).
n=0
for d in /sys/block/*; do
  [ -e "$d" ] || continue
  name=${d##*/}
  case "$name" in loop*|ram*|zram*|dm-*|md*|sr*|nbd*|fd*) continue ;; esac
  n=$((n + 1)); [ "$n" -le 256 ] || break
  sectors=$(value "$d/size")
  case "$sectors" in ''|*[!0-9]*) bytes='' ;; *) bytes=$((sectors * 512)) ;; esac
  model=$(value "$d/device/model")
  serial=$(value "$d/device/serial")
  [ -n "$serial" ] || serial=$(value "$d/serial")
  if [ -z "$serial" ] && have lsblk; then serial=$(lsblk -dno SERIAL "/dev/$name" 2>/dev/null | clean); fi
  printf 'disk\t%s\t%s\t%s\t%s\t%s\n' "$name" "$bytes" "$model" "$serial" "$(value "$d/queue/rotational")"
done

# NICs: every interface but loopback; 'physical' when it sits on a bus device (veth, bridges and tunnels do not).
n=0
for i in /sys/class/net/*; do
  [ -e "$i" ] || continue
  name=${i##*/}
  [ "$name" = lo ] && continue
  n=$((n + 1)); [ "$n" -le 256 ] || break
  physical=0; driver=''
  if [ -e "$i/device" ]; then
    physical=1
    [ -e "$i/device/driver" ] && driver=$(basename "$(readlink "$i/device/driver")")
  fi
  if [ -z "$driver" ] && [ "$physical" = 1 ] && have ethtool; then driver=$(ethtool -i "$name" 2>/dev/null | grep -m 1 '^driver:' | cut -d: -f2- | clean); fi
  printf 'nic\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$(value "$i/address")" "$driver" "$(value "$i/operstate")" \
    "$(value "$i/carrier" 2>/dev/null)" "$(value "$i/speed" 2>/dev/null)" "$physical"
done

# PCI devices: slot, vendor and device ids, class, driver.
n=0
for p in /sys/bus/pci/devices/*; do
  [ -e "$p" ] || continue
  n=$((n + 1)); [ "$n" -le 256 ] || break
  driver=''
  [ -e "$p/driver" ] && driver=$(basename "$(readlink "$p/driver")")
  printf 'pci\t%s\t%s\t%s\t%s\t%s\n' "${p##*/}" "$(value "$p/vendor")" "$(value "$p/device")" "$(value "$p/class")" "$driver"
done

# Software and names.
emit kernel "$(uname -r 2>/dev/null | clean)"
emit os "$( (. /etc/os-release 2>/dev/null && echo "${PRETTY_NAME:-$NAME $VERSION}") | clean)"
host=$(value /proc/sys/kernel/hostname)
[ -n "$host" ] || host=$(hostname 2>/dev/null | clean)
emit hostname "$host"
if have hostname; then
  if have timeout; then fqdn=$(timeout 5 hostname -f 2>/dev/null | clean); else fqdn=$(hostname -f 2>/dev/null | clean); fi
  emit fqdn "$fqdn"
fi
file machine_id /etc/machine-id
echo "end	1"
