# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
#
# What several sections of scripts/bench.sh share (sourced by it, from the
# repository's root): running stats.py, reading firstbyte's output line,
# and the Linux guests' setup (ember's default guest; QEMU microvm booting
# the same kernel, initramfs and command).

# bench_stats ARGS...: tests/bench/stats.py, which makes every figure and
# table from the raw samples the sections write.
bench_stats() {
	python3 -B tests/bench/stats.py "$@"
}

# kv LINE KEY: value of KEY=... in a firstbyte output line (empty if absent).
kv() {
	local w
	for w in $1; do
		case $w in "$2="*) echo "${w#*=}"; return ;; esac
	done
}

# posint VALUE DEFAULT: VALUE if it is a positive integer, else DEFAULT.
posint() { case $1 in '' | *[!0-9]* | 0) echo "$2" ;; *) echo "$1" ;; esac; }

# ---- Linux guests ----------------------------------------------------------------
#
# The Linux sections (blk.sh, run.sh) boot ember's default Linux guest
# (about 20 s per boot on a kvm_pvm host; one VM at a time).  QEMU microvm
# boots the same kernel and initramfs with the command line ember would give
# it, where it can: on a kvm_pvm host it cannot (pvm-notes.md: it dies on an
# emulation failure that ember's arch/x86/pvm.c handles), and a try costs
# minutes, so it is skipped there.  BENCH_QEMU_LINUX=1 forces the QEMU runs
# anyway, e.g. with BENCH_QEMU_ACCEL=tcg to check this script's QEMU path on
# such a host (TCG figures say nothing about QEMU under KVM).

# linux_ready: "" if ember's Linux guest can run, else why not.
linux_ready() {
	if [ ! -f "$LINUX_KERNEL" ] || [ ! -f "$LINUX_INITRD" ]; then
		echo "$LINUX_KERNEL or $LINUX_INITRD missing (make guest)"
	elif [ ! -x "$EMBER" ]; then
		echo "$EMBER missing (make ember)"
	fi
}

# Why QEMU cannot run the Linux guest here ("" if it can).
qemu_linux_reason() {
	if [ "${BENCH_QEMU_LINUX:-}" != 1 ] && [ -d /sys/module/kvm_pvm ]; then
		echo "QEMU microvm cannot boot Linux on kvm_pvm"
	elif ! command -v "$QEMU" >/dev/null 2>&1; then
		echo "$QEMU not installed"
	elif [ "$QEMU_ACCEL" = kvm ] && [ ! -w /dev/kvm ]; then
		echo "no writable /dev/kvm"
	fi
}

# qemu_linux_cmd MEM DISK|"" ARGS...: QEMU microvm running ARGS as the guest
# command, into QCMD.  The -append string is arch_default_cmdline's words
# (no kvm_pvm words: QEMU does not run here on such a host) and "quiet",
# like ember's, but QEMU has no command channel: the command goes the
# standard way, as init's arguments after "--", which ember's init runs on
# /dev/console (ttyS0, -serial stdio) when there is no channel.  The
# kernel's parser groups double quotes but has no escapes, so each of ARGS
# travels base64-encoded in a small script (itself base64) that the guest's
# busybox decodes into /tmp and sources: it rebuilds ARGS exactly and execs.  QEMU
# adds the virtio_mmio.device= words itself, but only with acpi=off (QEMU
# 7.2 describes the devices in ACPI otherwise, and ember's kernel has no
# ACPI).  -name debug-threads=on names the threads ("CPU 0/KVM", "worker",
# ...).  Fails if the command line is too long for the guest kernel.
qemu_linux_cmd() {
	local mem=$1 disk=$2 append="console=ttyS0 reboot=k panic=-1 quiet" decl="" list="" a i=0
	shift 2
	for a in "$@"; do # $(...) drops trailing newlines: an x keeps them, then goes
		i=$((i + 1))
		decl+="a$i=\$(echo $(printf '%sx' "$a" | base64 -w0) | base64 -d); "
		list+=" \"\${a$i%x}\""
	done
	local script="${decl}set --$list; exec \"\$@\""
	append+=" -- /bin/sh -c \"echo $(printf '%s' "$script" | base64 -w0) | base64 -d >/tmp/cmd; . /tmp/cmd\""
	# shellcheck disable=SC2054 # commas inside -M, -name and -device values
	QCMD=("$QEMU" -M "$QEMU_LINUX_MACHINE" -accel "$QEMU_ACCEL" -cpu "$QEMU_CPU" -m "$mem" -smp 1
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot
		-name ember-bench,debug-threads=on
		-kernel "$LINUX_KERNEL" -initrd "$LINUX_INITRD" -append "$append"
		-device isa-debug-exit,iobase=0x501,iosize=1)
	# shellcheck disable=SC2054
	[ -z "$disk" ] || QCMD+=(-drive "id=d0,file=$disk,format=raw,if=none" -device virtio-blk-device,drive=d0)
	# x86 Linux keeps 2047 bytes of command line (COMMAND_LINE_SIZE) and
	# QEMU would pass a longer one on truncated.
	[ ${#append} -le 2047 ]
}
