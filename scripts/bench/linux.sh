# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
#
# scripts/bench.sh, section "Linux boot": one `ember run --boot-timer --
# true` with the default guest (build/guest/bzImage + initramfs.cpio) when
# they exist, under firstbyte.  Raw samples: firstbyte's line and ember's
# stderr ($SCRATCH/linux.err, with the boot timer's "boot took N ms");
# stats.py linux prints the figures.

bench_linux() {
	local line
	echo "Linux boot (ember's default guest: $LINUX_KERNEL + $LINUX_INITRD)"
	if [ "$LINUX" = 0 ]; then
		echo "  skipped (BENCH_LINUX=0)"
	elif [ ! -f "$LINUX_KERNEL" ] || [ ! -f "$LINUX_INITRD" ]; then
		echo "  n/a: $LINUX_KERNEL or $LINUX_INITRD missing (make guest)"
	elif [ ! -x "$EMBER" ] || [ ! -x "$FB" ]; then
		echo "  n/a: $EMBER or $FB missing"
	else
		echo "  one run: $EMBER run --boot-timer -- true"
		line=$("$FB" -t "$LINUX_TIMEOUT" -o "$SCRATCH/linux.out" -- "$EMBER" run --boot-timer -- true 2>"$SCRATCH/linux.err")
		bench_stats linux --line="$line" --stderr "$SCRATCH/linux.err" --timeout "$LINUX_TIMEOUT"
	fi
	if [ -d /sys/module/kvm_pvm ]; then
		echo "  QEMU: not run. On this kvm_pvm host QEMU 7.2 microvm died on a Linux kernel with an"
		echo "        emulation failure (pvm-notes.md: KVM hands instructions such as clac/stac back to"
		echo "        user space here, which ember's arch/x86/pvm.c handles and QEMU does not), and a"
		echo "        try takes minutes."
	else
		echo "  QEMU: not measured by this script (the guest's init speaks ember's exit-port protocol)."
	fi
	echo
}
