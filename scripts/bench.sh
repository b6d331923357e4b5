#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# shellcheck source-path=SCRIPTDIR/..
#
# ember vs QEMU microvm, side by side, in one run (`make bench`).  Figures
# only: no pass/fail.  Any measurement that cannot be made prints "n/a" and
# the script goes on; it exits 0 unless it is broken itself.
#
# This file is the driver: settings, scratch directory, header, then the
# sections in order.  Each section (scripts/bench/*.sh, sourced) launches
# the VMMs and writes raw samples into the scratch directory;
# tests/bench/stats.py turns them into figures and tables.  Everything runs
# sequentially (on kvm_pvm hosts two VMs side by side are each much slower).
#   tiny.sh   the tiny PVH guest (tests/bench/pvh_guest.S) under both VMMs:
#             exec -> first serial byte and exec -> exit times, memory, and
#             the binary sizes
#   linux.sh  one `ember run --boot-timer -- true` with the default guest
#   blk.sh    block I/O: sequential O_DIRECT dd in a Linux guest, guest MiB/s
#             and the host CPU time of the VMM's disk thread(s)
#   stdio.sh  `ember run -i`'s stdin and stdout streams: MiB/s each way
#             (dd through cat in a Linux guest) and ember's CPU per MiB,
#             by thread (ember only: QEMU has no such streams)
#   net.sh    networking: guest <-> host TCP (busybox nc, both directions)
#             over --net auto and --net user, in a network namespace of its
#             own: guest MiB/s, host CPU per MiB (and per GiB) of ember by
#             thread, of passt and of the host's nc; ember's share of it.
#             On kvm_pvm hosts the guest kernel's own speed bounds the
#             figures (ember only: QEMU cannot boot Linux there)
#   run.sh    one-shot run: `ember run --cold -- true`, wall and CPU time
#   warm.sh   warm start: cold vs first (saving) vs warm `ember run -- true`,
#             restore time, snapshot sizes (256 MiB, 1 GiB), sparse vs LZ4
#   lib.sh    what several sections share (firstbyte's output, QEMU's Linux
#             command line)
# Both Linux sections put QEMU microvm, booting the same kernel, initramfs
# and command, next to ember where it can run; on a kvm_pvm host it cannot
# (it dies on an emulation failure): "n/a".
#
# Environment:
#   BENCH_RUNS=20          timed runs per configuration
#   BENCH_LINUX=1          0 skips the Linux boot
#   BENCH_TIMEOUT=30       seconds before one tiny-guest run is killed
#   BENCH_LINUX_TIMEOUT=600
#   BENCH_QEMU=qemu-system-x86_64
#   BENCH_QEMU_MACHINE=microvm,...   the -M argument (default below)
#   BENCH_BLK=1            0 skips the block I/O section
#   BENCH_BLK_MIB_4K=4     MiB written, then read, with 4 KiB blocks
#   BENCH_BLK_MIB_64K=16   MiB written, then read, with 64 KiB blocks
#   BENCH_BLK_TIMEOUT=600  seconds before the block I/O boot is killed
#   BENCH_BLK_DIR=$TMPDIR  where the 256 MiB image goes (sparse; deleted)
#   BENCH_STDIO=1          0 skips the stdio streams section
#   BENCH_STDIO_MIB=64     MiB through stdin, then through stdout
#   BENCH_STDIO_TIMEOUT=1200  seconds before the stdio boot is killed
#   BENCH_NET=1            0 skips the network section (it needs root: n/a without)
#   BENCH_NET_MIB=4        MiB host -> guest, then guest -> host, per --net kind
#                          (kvm_pvm host: ~0.1 and ~0.04 MiB/s: the section
#                          takes ~7 minutes, two Linux boots included)
#   BENCH_NET_TIMEOUT=900  seconds before one --net kind's boot is killed
#   BENCH_RUN=1            0 skips the one-shot run section
#   BENCH_RUN_RUNS=3       one-shot runs per VMM (each a Linux boot)
#   BENCH_WARM=1           0 skips the warm-start section
#   BENCH_WARM_RUNS=5      warm runs (restores of the booted guest)
#   BENCH_WARM_1G=1        0 skips the 1 GiB guest's snapshot size (a Linux boot)
#   BENCH_QEMU_LINUX=0     1 runs QEMU's Linux guests even on a kvm_pvm host
#   BENCH_QEMU_ACCEL=kvm   -accel for QEMU's Linux guests (tcg: to check this
#                          script's QEMU path where KVM cannot run them)
#   BENCH_QEMU_LINUX_MACHINE=microvm,acpi=off
#   BENCH_KEEP=0           1 keeps the scratch directory (every run's output
#                          and every raw sample)
#   EMBER=./ember
set -u
cd "$(dirname "$0")/.." || exit 1

RUNS=${BENCH_RUNS:-20}
EMBER=${EMBER:-./ember}
GUEST=${BENCH_GUEST:-build/bench/pvh_guest.elf}
FB=${BENCH_FIRSTBYTE:-build/bench/firstbyte}
QEMU=${BENCH_QEMU:-qemu-system-x86_64}
# Every microvm option that removes a device or firmware step this guest
# does not need (all of these were checked to work with QEMU 7.2; plain
# `-M microvm` works as well and is ~5-10 ms slower here).
QEMU_MACHINE=${BENCH_QEMU_MACHINE:-microvm,x-option-roms=off,rtc=off,pit=off,pic=off,acpi=off,pcie=off,ioapic2=off}
# Linux guests: acpi=off, or QEMU 7.2 leaves the virtio-mmio devices out of
# the kernel command line (they are in its ACPI tables, and ember's guest
# kernel has no ACPI).
QEMU_LINUX_MACHINE=${BENCH_QEMU_LINUX_MACHINE:-microvm,acpi=off}
QEMU_ACCEL=${BENCH_QEMU_ACCEL:-kvm}
# -cpu for the tiny guest (always KVM) and for the Linux guests.  A kvm_pvm
# host refuses any value but 0 for MSR 0x10a (IA32_ARCH_CAPABILITIES;
# shared/pvm-notes.md), which QEMU 7.2 aborts on with -cpu host: there,
# hide the feature so QEMU does not write the MSR.  Hardware hosts keep host.
QEMU_TINY_CPU=host
[ -d /sys/module/kvm_pvm ] && QEMU_TINY_CPU=host,-arch-capabilities
QEMU_CPU=$QEMU_TINY_CPU
[ "$QEMU_ACCEL" = kvm ] || QEMU_CPU=max
TIMEOUT=${BENCH_TIMEOUT:-30}
LINUX=${BENCH_LINUX:-1}
LINUX_TIMEOUT=${BENCH_LINUX_TIMEOUT:-600}
LINUX_KERNEL=build/guest/bzImage
# rootfs/rootfs.mk's output: initramfs.cpio (older trees: initramfs.cpio.gz).
LINUX_INITRD=build/guest/initramfs.cpio
[ -f "$LINUX_INITRD" ] || [ ! -f "$LINUX_INITRD.gz" ] || LINUX_INITRD=$LINUX_INITRD.gz

case $RUNS in '' | *[!0-9]* | 0) echo "bench: BENCH_RUNS=$RUNS: not a positive number, using 20" >&2; RUNS=20 ;; esac

# Every figure and table comes from tests/bench/stats.py.
if ! command -v python3 >/dev/null 2>&1; then
	echo "bench: python3 not found; it makes the tables (make deps, or apt-get install python3)" >&2
	exit 1
fi

# The scratch directory: every run's output and the raw samples.
SCRATCH=$(mktemp -d)
if [ "${BENCH_KEEP:-0}" = 1 ]; then
	echo "bench: keeping $SCRATCH (BENCH_KEEP=1)" >&2
else
	trap 'rm -rf "$SCRATCH"' EXIT
fi
ulimit -c 0

. scripts/bench/lib.sh
. scripts/bench/tiny.sh
. scripts/bench/linux.sh
. scripts/bench/blk.sh
. scripts/bench/stdio.sh # after blk.sh: uses its thread snapshots
. scripts/bench/net.sh   # after blk.sh and stdio.sh: uses their snapshots
. scripts/bench/run.sh
. scripts/bench/warm.sh

# ---- header ------------------------------------------------------------------

host_kvm="hardware KVM"
if [ -d /sys/module/kvm_pvm ]; then
	host_kvm="kvm_pvm (software KVM: guest ring-0 code runs at ~1M instructions/s)"
elif [ ! -e /dev/kvm ]; then
	host_kvm="no /dev/kvm"
fi
ember_ver=$("$EMBER" --version 2>/dev/null | head -n 1)
qemu_ver=$("$QEMU" --version 2>/dev/null | head -n 1)

echo "ember bench: ember vs QEMU microvm on one tiny PVH guest"
echo "  host:   Linux $(uname -r) $(uname -m), $(nproc) CPUs; /sys/module/kvm_pvm $([ -d /sys/module/kvm_pvm ] && echo exists || echo absent): $host_kvm"
echo "  ember:  ${ember_ver:-n/a ($EMBER not runnable)}"
echo "  QEMU:   ${qemu_ver:-n/a ($QEMU not found)}"
# shellcheck disable=SC2028 # prints a backslash and n, as meant
echo "  guest:  $GUEST ($(stat -c %s "$GUEST" 2>/dev/null || echo '?') bytes): 'bench-ok\n' to COM1, exit via port 0x501"
echo "  ember:  $EMBER run --kernel GUEST --mem 16M|256M"
echo "  QEMU:   $QEMU -M $QEMU_MACHINE -accel kvm -cpu $QEMU_TINY_CPU -m 16M|256M"
echo "          -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel GUEST"
echo "          -device isa-debug-exit,iobase=0x501,iosize=1   (exit code 1 = guest wrote 0)"
echo "  runs:   $RUNS timed runs per configuration, interleaved, after one warm-up run each"
echo

# ---- the sections ----------------------------------------------------------------

bench_tiny
bench_size
bench_linux
bench_blk
bench_stdio
bench_net
bench_run
bench_warm
exit 0
