#!/usr/bin/env bash
# mmdebstrap hooks for VM guests: run on the build host with the new root filesystem in $2.
#   vm.sh setup ROOT       before packages are installed: the initramfs configuration, so that the kernel's own
#                          postinst builds the small initramfs once (under qemu-user that is minutes per build);
#   vm.sh customize ROOT   after: configuration, first-boot units, and trimming.
# Files come from hooks/vm/; commands run inside the root with chroot (through qemu-user for a foreign arch).
set -euo pipefail
phase=$1
root=$2
files=$(cd "$(dirname "${BASH_SOURCE[0]}")/vm" && pwd)
in_root() { chroot "$root" "$@"; }

if [[ $phase == setup ]]; then
  install -D -m 0644 "$files/initramfs/testgrid.conf" "$root/etc/initramfs-tools/conf.d/testgrid.conf"
  install -D -m 0755 "$files/initramfs/testgrid-virtio" "$root/etc/initramfs-tools/hooks/testgrid-virtio"
  exit 0
fi

cp "$files/fstab" "$root/etc/fstab"
echo testgrid > "$root/etc/hostname"
install -D -m 0644 "$files/sshd-testgrid.conf" "$root/etc/ssh/sshd_config.d/testgrid.conf"
install -D -m 0644 "$files/10-dhcp.network" "$root/etc/systemd/network/10-dhcp.network"
install -D -m 0755 "$files/testgrid-hostkeys" "$root/usr/local/sbin/testgrid-hostkeys"
install -D -m 0644 "$files/testgrid-hostkeys.service" "$root/etc/systemd/system/testgrid-hostkeys.service"
install -D -m 0644 "$files/journald-volatile.conf" "$root/etc/systemd/journald.conf.d/volatile.conf"
install -D -m 0644 "$files/resolved-testgrid.conf" "$root/etc/systemd/resolved.conf.d/testgrid.conf"

# Each instance makes its own host keys and machine id at first boot; none is baked into the image.
rm -f "$root"/etc/ssh/ssh_host_*
: > "$root/etc/machine-id"
rm -f "$root/var/lib/dbus/machine-id"
# No password for anyone; root logs in with the per-attempt key only (systemd credential ssh.authorized_keys.root).
in_root passwd -l root >/dev/null
rm -rf "$root/root/.ssh"

in_root systemctl enable systemd-networkd.service systemd-resolved.service systemd-timesyncd.service testgrid-hostkeys.service ssh.socket >/dev/null 2>&1
in_root systemctl disable ssh.service >/dev/null 2>&1 || true
# Units a throwaway test guest does not need; they cost seconds of boot under emulation.
in_root systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer e2scrub_reap.service fstrim.timer \
  systemd-networkd-wait-online.service >/dev/null 2>&1
# Smaller: no drivers for hardware a virtual machine never has (documentation was never unpacked: see rootfs.sh).
# A guest needs virtio, filesystems, networking and crypto; physical NICs, storage controllers, USB, sound, GPUs,
# sensors and the kernel's self-test modules go. (virtio_net.ko sits in drivers/net itself and stays.)
for kernel in "$root"/usr/lib/modules/*; do
  for dir in drivers/gpu drivers/media drivers/net/wireless drivers/net/ethernet drivers/net/can drivers/net/usb \
             drivers/infiniband drivers/staging drivers/bluetooth drivers/isdn drivers/iio drivers/input/touchscreen \
             drivers/usb drivers/hwmon drivers/comedi drivers/mtd drivers/scsi/*/ drivers/thunderbolt drivers/nfc \
             sound net/wireless net/bluetooth net/mac80211 lib/test_*.ko; do
    rm -rf "${kernel:?}"/kernel/$dir
  done
  in_root depmod -a "$(basename "$kernel")"
done
rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*
# Name resolution through systemd-resolved (DNS from DHCP), not the build machine's resolver.
ln -sf ../run/systemd/resolve/stub-resolv.conf "$root/etc/resolv.conf"
