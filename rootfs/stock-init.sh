#!/bin/sh
# SPDX-License-Identifier: GPL-2.0-only
# /init of the stock-kernel initramfs (rootfs/build-stock-initramfs.sh puts it
# there, with busybox and the kernel's own modules).  ember's init (init.c)
# cannot be used: a stock distro kernel has virtio_mmio and virtio_blk as
# modules, so they must be loaded before any disk exists.
#
# It loads the modules listed in /etc/stock-modules (file names under
# /lib/modules, already in dependency order), looks at what the kernel found
# through ACPI, mounts /dev/vda read-only and reads /hello.txt, and prints one
# "stock: " line per fact for tests/integration/stock-kernel.sh.  Then it
# reboots: with ember's reboot=k the reset goes through the i8042 and ember
# exits 123.  (Powering off is no use: ember's ACPI tables are
# hardware-reduced without \_S5, so the kernel would halt and the VM hang; a
# shell cannot write ember's exit port.)
export PATH=/bin:/sbin
say() { echo "stock: $*"; }

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null # may be mounted already
# Kernel messages from here on would land in the middle of these lines: keep
# them off the console (the interesting ones are printed from dmesg below).
echo 1 >/proc/sys/kernel/printk

say "init: kernel $(uname -r), $(nproc) cpus"

failed=0
while read -r ko; do
	[ -n "$ko" ] || continue
	if insmod "/lib/modules/$ko"; then
		say "insmod: $ko"
	else
		say "insmod-failed: $ko"
		failed=$((failed + 1))
	fi
done </etc/stock-modules
say "modules: $failed failed"

devs=
for d in /sys/bus/platform/devices/*; do devs="$devs ${d##*/}"; done
say "platform:$devs"
for d in /sys/bus/platform/devices/LNRO0005:*; do
	[ -e "$d" ] || continue
	drv=none
	[ -e "$d/driver" ] && drv=$(basename "$(readlink "$d/driver")")
	say "acpi-device: ${d##*/} driver=$drv path=$(cat "$d/firmware_node/path" 2>/dev/null)"
done

# virtio_blk probes asynchronously from insmod's point of view: wait up to 10 s.
i=0
while [ ! -b /dev/vda ] && [ $i -lt 100 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ -b /dev/vda ]; then
	say "vda: $(readlink -f /sys/block/vda) sectors=$(cat /sys/block/vda/size)"
	mkdir -p /mnt
	if mount -t ext4 -o ro /dev/vda /mnt; then
		say "hello: $(cat /mnt/hello.txt)"
		umount /mnt
	else
		say "mount-failed"
	fi
else
	say "vda-missing"
fi

dmesg | grep -iE 'virtio|LNRO|vda|ACPI: (Core|Interpreter|Added|Early)|smpboot|EXT4' |
	grep -iv 'command line:' | while read -r line; do say "dmesg: $line"; done
say "done"

# The console drains by interrupt: give it a moment before the reset.
sleep 1
reboot -f
echo b >/proc/sysrq-trigger # only if reboot -f returned
sleep 5
say "reboot did not happen"
