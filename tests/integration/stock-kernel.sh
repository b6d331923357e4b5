#!/usr/bin/env bash
# A stock Debian 12 cloud kernel under ember sees its disk through ACPI.
#
# That kernel has virtio_mmio as a module built without
# CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES, and busybox insmod passes no parameters
# anyway: the virtio_mmio.device= words ember puts on the command line do
# nothing, and the only way it can find the disk is the LNRO0005 device in
# ember's DSDT.  It also has no MP-table parser (CONFIG_X86_MPPARSE off), so
# its second CPU comes from the MADT.  One boot checks:
#   - the kernel reaches the initramfs's /init (rootfs/stock-init.sh), 2 CPUs
#   - its virtio modules load (busybox insmod, order from modules.dep)
#   - LNRO0005:00 is a platform device bound to virtio-mmio
#   - /dev/vda sits under it (/sys/devices/platform/LNRO0005:00/virtio0/...)
#   - ext4 on vda mounts and hello.txt reads back
#   - the guest's reboot goes through the i8042 and ember exits 123
#
# On a software-KVM host (kvm_pvm) a stock kernel does not finish booting in
# any useful time (shared/pvm-notes.md): the test is skipped there, and the
# DSDT that kernel would read is checked with iasl by tests/unit/test_acpi.c.
# STOCK_FORCE=1 boots anyway (set BOOT_TIMEOUT to match).
#
# Needs ./ember, network access to Debian's archive on the first run (the
# package is cached in ${EMBER_CACHE:-~/.cache/ember}/stock-*),
# apt-get/dpkg-deb, busybox-static, cpio, mke2fs.
# Run from anywhere: tests/integration/stock-kernel.sh
SUITE=stock
BOOT_TIMEOUT=${BOOT_TIMEOUT:-120}
. "$(dirname "$0")/lib.sh"
export PATH="$PATH:/sbin:/usr/sbin"
skip() { echo "# SKIP stock kernel: $1"; echo "stock: 0 passed, 0 failed"; exit 0; }

if [ "${STOCK_FORCE:-0}" != 1 ]; then
	[ -e /dev/kvm ] || skip "no /dev/kvm on this host"
	[ -d /sys/module/kvm_pvm ] &&
		skip "software KVM here (kvm_pvm), where a stock kernel never finishes booting; the DSDT it would read is checked by tests/unit/test_acpi.c"
fi

[ -x "$EMBER" ] || { fail "setup" "$EMBER missing (run 'make ember')"; finish; }
for tool in mke2fs bc; do
	command -v "$tool" >/dev/null || { fail "setup" "$tool not installed (e2fsprogs, bc)"; finish; }
done

# --- the stock kernel and its initramfs ------------------------------------------
start=$(date +%s.%N)
rootfs/build-stock-initramfs.sh "$out/stock" >"$out/build.out" 2>"$out/build.log"
rc=$?
printf '# build: exit %s after %.1f s\n' "$rc" "$(echo "$(date +%s.%N) - $start" | bc)"
KERNEL=$out/stock/vmlinuz
INITRD=$out/stock/initramfs.cpio
check "the Debian cloud kernel package is fetched and its initramfs built" \
	"$([ "$rc" -eq 0 ] && [ -s "$KERNEL" ] && [ -s "$INITRD" ] && [ -s "$out/stock/release" ]; echo $?)" \
	"exit $rc; $(tail -n 5 "$out/build.log")"
[ "$rc" -eq 0 ] || finish
release=$(cat "$out/stock/release")
grep -E '^build-stock-initramfs: (module|cached)' "$out/build.log" | sed 's/^/# /'

# --- the disk ---------------------------------------------------------------------
HELLO='hello from the host, found through ACPI'
mkdir "$out/root"
printf '%s\n' "$HELLO" >"$out/root/hello.txt"
mke2fs -q -t ext4 -d "$out/root" "$out/ext4.img" 16M >"$out/mke2fs.log" 2>&1 ||
	{ fail "setup" "mke2fs failed: $(cat "$out/mke2fs.log")"; finish; }

# --- the boot ---------------------------------------------------------------------
# --verbose: the kernel log is in boot.out for a failure's details (the init
# turns console messages off before it prints its own lines).
start=$(date +%s.%N)
timeout -k 5 $((BOOT_TIMEOUT + 15)) "$EMBER" run --verbose --timeout "$BOOT_TIMEOUT" \
	--kernel "$KERNEL" --initrd "$INITRD" --cpus 2 --mem 512M \
	--disk "$out/ext4.img" --cmdline 'console=ttyS0 panic=-1' \
	>"$out/boot.out" 2>"$out/boot.err" </dev/null
rc=$?
printf '# boot of %s: exit %s after %.1f s\n' "$release" "$rc" "$(echo "$(date +%s.%N) - $start" | bc)"
g() { # g KEY: the guest's first "stock: KEY..." line, from "stock:" on (status 1 if none)
	local line
	line=$(grep -a -o -m1 "stock: $1.*" "$out/boot.out") || return 1
	printf '%s\n' "${line%$'\r'}"
}
show="stdout: $(tail -c 1500 "$out/boot.out" | tr '\r' ' '); stderr: $(tail -c 400 "$out/boot.err")"
g 'acpi-device:' | sed 's/^/# /'
g 'vda:' | sed 's/^/# /'

check "the stock kernel ($release) runs the initramfs's /init" \
	"$(g init: | grep -q "^stock: init: kernel $release,"; echo $?)" "$show"
check "--cpus 2: the guest brings up 2 CPUs (ACPI MADT)" \
	"$(g init: | grep -q ", 2 cpus$"; echo $?)" "$(g init:)"
check "virtio_mmio and virtio_blk load with insmod" \
	"$(g 'insmod: virtio_mmio.ko' >/dev/null && g 'insmod: virtio_blk.ko' >/dev/null &&
	  [ "$(g modules:)" = "stock: modules: 0 failed" ]; echo $?)" \
	"$(grep -a -o 'stock: \(insmod\|modules\).*' "$out/boot.out" | tr '\r\n' '  ')"
check "LNRO0005:00 is a platform device from ember's DSDT, bound to virtio-mmio" \
	"$(g 'acpi-device: LNRO0005:00 ' | grep -q ' driver=virtio-mmio '; echo $?)" \
	"$(g platform:); $(g 'acpi-device:')"
check "/dev/vda is the disk behind the ACPI device" \
	"$(g vda: | grep -qE '^stock: vda: /sys/devices/platform/LNRO0005:00/virtio[0-9]+/block/vda sectors=32768$'; echo $?)" \
	"$(g vda || g vda-missing)"
check "ext4 on vda mounts and hello.txt reads back" \
	"$([ "$(g hello:)" = "stock: hello: $HELLO" ]; echo $?)" "$(g hello: || g mount-failed); $show"
check "no guest driver errors reported" "$( ! grep -q 'guest driver error' "$out/boot.err"; echo $?)" \
	"$(cat "$out/boot.err")"
check "the guest's reboot stops the VM: ember exits 123 after the init's last line" \
	"$([ "$rc" -eq 123 ] && g 'done' >/dev/null; echo $?)" "exit $rc; $show"
if [ "$failed" -gt 0 ]; then
	grep -a -o 'stock: dmesg:.*' "$out/boot.out" | tr -d '\r' | sed 's/^/# /'
fi
finish
