#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# ember vs QEMU microvm, side by side, in one run (`make bench`).  Figures
# only: no pass/fail.  Any measurement that cannot be made prints "n/a" and
# the script goes on; it exits 0 unless it is broken itself.
#
# What is measured (everything sequential: on kvm_pvm hosts two VMs side by
# side are each much slower):
#   - the bench guest build/bench/pvh_guest.elf (tests/bench/pvh_guest.S):
#     an ELF with a Xen PVH note that both VMMs boot directly; it writes
#     "bench-ok\n" to COM1 and exits through port 0x501 (QEMU's
#     isa-debug-exit turns status 0 into exit code 1: success for QEMU);
#   - with build/bench/firstbyte (tests/bench/firstbyte.c) for each run:
#     exec -> first byte of guest serial output on the VMM's stdout, exec ->
#     process exit, ru_maxrss; BENCH_RUNS runs of each configuration,
#     interleaved (ember 16M, ember 256M, QEMU 16M, QEMU 256M, repeat) after
#     one untimed warm-up run each; median and min in ms;
#   - memory, from one more run of each configuration under firstbyte -m
#     (ptrace; see firstbyte.c): VmHWM (the exact peak RSS of the VMM
#     process) and the Rss of its guest RAM mapping sampled just before it
#     is unmapped or the process exits ("guest RAM resident": host pages
#     backing guest RAM, whoever touched them).  "VMM overhead" = VmHWM -
#     guest RAM resident: what the VMM process itself costs beyond the
#     guest's memory.  Running 16M and 256M shows whether the guest size
#     costs anything when the guest does not use it;
#   - binary size: ./ember (static; also stripped, as Debian ships QEMU
#     stripped) vs qemu-system-x86_64 plus the shared libraries ldd
#     resolves for it (each file counted once) plus its microvm firmware;
#   - Linux: one `ember run --boot-timer -- true` with the default guest
#     (build/guest/bzImage + initramfs.cpio) when they exist;
#   - block I/O (bench_blk): one Linux boot with a 256 MiB sparse raw image
#     as /dev/vda; sequential O_DIRECT dd writes then reads with 4 KiB and
#     64 KiB blocks in the guest: guest MiB/s and the host CPU time of the
#     VMM's disk thread(s) per MiB moved, plus the whole process's CPU split
#     (vCPU threads / disk thread / rest); how it samples: see the section;
#   - one-shot run (bench_run): `ember run -- true`, wall time exec -> exit
#     and the process's user+sys CPU time, median of BENCH_RUN_RUNS runs.
#   Both Linux sections put QEMU microvm, booting the same kernel, initramfs
#   and command, next to ember where it can run; on a kvm_pvm host it cannot
#   (it dies on an emulation failure): "n/a".
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
#   BENCH_RUN=1            0 skips the one-shot run section
#   BENCH_RUN_RUNS=3       one-shot runs per VMM (each a Linux boot)
#   BENCH_QEMU_LINUX=0     1 runs QEMU's Linux guests even on a kvm_pvm host
#   BENCH_QEMU_ACCEL=kvm   -accel for QEMU's Linux guests (tcg: to check this
#                          script's QEMU path where KVM cannot run them)
#   BENCH_QEMU_LINUX_MACHINE=microvm,acpi=off
#   BENCH_KEEP=0           1 keeps the scratch directory (every run's output)
#   EMBER=./ember
set -u
cd "$(dirname "$0")/.."

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
QEMU_CPU=host
[ "$QEMU_ACCEL" = kvm ] || QEMU_CPU=max
TIMEOUT=${BENCH_TIMEOUT:-30}
LINUX=${BENCH_LINUX:-1}
LINUX_TIMEOUT=${BENCH_LINUX_TIMEOUT:-600}
LINUX_KERNEL=build/guest/bzImage
# rootfs/rootfs.mk's output: initramfs.cpio (older trees: initramfs.cpio.gz).
LINUX_INITRD=build/guest/initramfs.cpio
[ -f "$LINUX_INITRD" ] || [ ! -f "$LINUX_INITRD.gz" ] || LINUX_INITRD=$LINUX_INITRD.gz

case $RUNS in '' | *[!0-9]* | 0) echo "bench: BENCH_RUNS=$RUNS: not a positive number, using 20" >&2; RUNS=20 ;; esac

tmp=$(mktemp -d)
if [ "${BENCH_KEEP:-0}" = 1 ]; then
	echo "bench: keeping $tmp (BENCH_KEEP=1)" >&2
else
	trap 'rm -rf "$tmp"' EXIT
fi
ulimit -c 0

# ---- helpers -----------------------------------------------------------------

# Command line of configuration $1 (ember16 ember256 qemu16 qemu256) into CMD.
set_cmd() {
	local mem=${1#ember}; mem=${mem#qemu}
	case $1 in
	ember*) CMD=("$EMBER" run --kernel "$GUEST" --mem "${mem}M") ;;
	qemu*) CMD=("$QEMU" -M "$QEMU_MACHINE" -accel kvm -cpu host -m "${mem}M"
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot
		-kernel "$GUEST" -device isa-debug-exit,iobase=0x501,iosize=1) ;;
	esac
}
want_rc() { case $1 in ember*) echo 0 ;; qemu*) echo 1 ;; esac; }
mem_bytes() { local m=${1#ember}; m=${m#qemu}; echo $((m << 20)); }

# kv LINE KEY: value of KEY=... in a firstbyte output line (empty if absent).
kv() {
	local w
	for w in $1; do
		case $w in "$2="*) echo "${w#*=}"; return ;; esac
	done
}

# One timed run of configuration $1; on success appends to the sample files
# $tmp/$1.first, .exit, .rss; on failure counts it and keeps the first reason.
timed_run() {
	local c=$1 line st
	set_cmd "$c"
	line=$("$FB" -t "$TIMEOUT" -o "$tmp/out" -- "${CMD[@]}" 2>"$tmp/err")
	st=$(kv "$line" status)
	if [ -n "$line" ] && [ "$st" = "$(want_rc "$c")" ] && grep -q 'bench-ok' "$tmp/out" &&
		[ "$(kv "$line" first_ms)" != na ]; then
		kv "$line" first_ms >>"$tmp/$c.first"
		kv "$line" exit_ms >>"$tmp/$c.exit"
		kv "$line" maxrss_kib >>"$tmp/$c.rss"
		kv "$line" prexec_kib >>"$tmp/prexec"
		return 0
	fi
	echo x >>"$tmp/$c.fail"
	if [ ! -s "$tmp/$c.why" ]; then
		local why="status ${st:-?}"
		[ "$(kv "$line" timeout)" = 1 ] && why="timed out after ${TIMEOUT}s"
		[ -z "$line" ] && why="could not run"
		[ -s "$tmp/err" ] && why="$why: $(head -n 2 "$tmp/err" | tr '\n' ' ' | cut -c 1-160 | sed 's/ *$//')"
		grep -q 'bench-ok' "$tmp/out" 2>/dev/null || why="$why (no bench-ok on stdout)"
		echo "$why" >"$tmp/$c.why"
	fi
	return 1
}

# summ FILE median|min: of the numbers in FILE, printed %.1f; "n/a" if none.
summ() {
	[ -s "$1" ] || { echo n/a; return; }
	sort -g "$1" | awk -v what="$2" '{ v[NR] = $1 }
		END {
			if (what == "min") x = v[1]
			else if (NR % 2) x = v[(NR + 1) / 2]
			else x = (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.1f\n", x
		}'
}

# ratio A B: A/B with 2 decimals, n/a unless both are numbers and B > 0.
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a ~ /^[0-9.]+$/ && b ~ /^[0-9.]+$/ && b + 0 > 0) printf "%.2f\n", a / b
		else print "n/a" }'
}

# sub A B: A-B, n/a unless both are numbers.
sub() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (a ~ /^[0-9]+$/ && b ~ /^[0-9]+$/) print a - b; else print "n/a" }'
}

# Human-readable size of N bytes.
human() {
	awk -v n="$1" 'BEGIN {
		if (n !~ /^[0-9]+$/) print "n/a"
		else if (n >= 1048576) printf "%.1f MiB\n", n / 1048576
		else printf "%.0f KiB\n", n / 1024 }'
}

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
echo "  guest:  $GUEST ($(stat -c %s "$GUEST" 2>/dev/null || echo '?') bytes): 'bench-ok\n' to COM1, exit via port 0x501"
echo "  ember:  $EMBER run --kernel GUEST --mem 16M|256M"
echo "  QEMU:   $QEMU -M $QEMU_MACHINE -accel kvm -cpu host -m 16M|256M"
echo "          -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel GUEST"
echo "          -device isa-debug-exit,iobase=0x501,iosize=1   (exit code 1 = guest wrote 0)"
echo "  runs:   $RUNS timed runs per configuration, interleaved, after one warm-up run each"
echo

# ---- which configurations can run at all --------------------------------------

configs=()
skip_reason_ember="" skip_reason_qemu=""
if [ ! -x "$FB" ] || [ ! -f "$GUEST" ]; then
	skip_reason_ember="$FB or $GUEST missing (run: make bench)"
	skip_reason_qemu=$skip_reason_ember
else
	[ -x "$EMBER" ] || skip_reason_ember="$EMBER missing (run: make ember)"
	command -v "$QEMU" >/dev/null 2>&1 || skip_reason_qemu="$QEMU not installed (apt-get install qemu-system-x86)"
fi
for c in ember16 ember256 qemu16 qemu256; do
	case $c in ember*) [ -n "$skip_reason_ember" ] && continue ;; qemu*) [ -n "$skip_reason_qemu" ] && continue ;; esac
	# Warm-up (page cache, first-use costs); a configuration that fails
	# here is not timed, and says why.
	if timed_run "$c"; then
		configs+=("$c")
	else
		echo "  note: $c warm-up run failed: $(cat "$tmp/$c.why")"
	fi
	rm -f "$tmp/$c.first" "$tmp/$c.exit" "$tmp/$c.rss" "$tmp/$c.fail" "$tmp/$c.why"
done
[ -n "$skip_reason_ember" ] && echo "  note: ember not measured: $skip_reason_ember"
[ -n "$skip_reason_qemu" ] && echo "  note: QEMU not measured: $skip_reason_qemu"

# ---- timed runs ----------------------------------------------------------------

for ((i = 0; i < RUNS; i++)); do
	for c in "${configs[@]}"; do
		timed_run "$c"
	done
done

# ---- memory: one traced run each -------------------------------------------------

declare -A hwm=() guestkib=()
for c in "${configs[@]}"; do
	set_cmd "$c"
	line=$("$FB" -m "$(mem_bytes "$c")" -t "$((TIMEOUT * 4))" -- "${CMD[@]}" 2>/dev/null)
	if [ "$(kv "$line" status)" = "$(want_rc "$c")" ]; then
		hwm[$c]=$(kv "$line" hwm_kib)
		guestkib[$c]=$(kv "$line" guest_kib)
	fi
done

# ---- times table -------------------------------------------------------------------

row() { printf '  %-32s %-18s %-18s %s\n' "$@"; }
pair() { # median / min of samples file $1
	local md mn
	md=$(summ "$1" median)
	mn=$(summ "$1" min)
	[ "$md" = n/a ] && { echo n/a; return; }
	echo "$md / $mn"
}
nok() { # successful/total runs of configuration $1
	local ok=0 bad=0
	[ -f "$tmp/$1.exit" ] && ok=$(wc -l <"$tmp/$1.exit")
	[ -f "$tmp/$1.fail" ] && bad=$(wc -l <"$tmp/$1.fail")
	echo "$ok/$((ok + bad))"
}

for mem in 16 256; do
	e=ember$mem q=qemu$mem
	echo "Times, ms (median / min) -- guest RAM ${mem} MiB"
	row "" "ember" "QEMU microvm" "ember/QEMU (median)"
	row "exec -> first serial byte" "$(pair "$tmp/$e.first")" "$(pair "$tmp/$q.first")" \
		"$(ratio "$(summ "$tmp/$e.first" median)" "$(summ "$tmp/$q.first" median)")"
	row "exec -> process exit" "$(pair "$tmp/$e.exit")" "$(pair "$tmp/$q.exit")" \
		"$(ratio "$(summ "$tmp/$e.exit" median)" "$(summ "$tmp/$q.exit" median)")"
	row "successful runs" "$(nok "$e")" "$(nok "$q")" ""
	for c in $e $q; do
		[ -s "$tmp/$c.why" ] && echo "  note: $c: a run failed: $(cat "$tmp/$c.why")"
	done
	echo
done

# ---- memory table --------------------------------------------------------------------

mrow() { printf '  %-42s %-10s %-10s %-10s %s\n' "$@"; }
v() { local x=${1:-}; echo "${x:-n/a}"; }
echo "Memory, KiB"
mrow "" "ember 16M" "ember 256M" "QEMU 16M" "QEMU 256M"
mrow "peak RSS, ru_maxrss (median of timed runs) *" \
	"$(v "$(summ "$tmp/ember16.rss" median | sed 's/\.0$//')")" "$(v "$(summ "$tmp/ember256.rss" median | sed 's/\.0$//')")" \
	"$(v "$(summ "$tmp/qemu16.rss" median | sed 's/\.0$//')")" "$(v "$(summ "$tmp/qemu256.rss" median | sed 's/\.0$//')")"
mrow "peak RSS, VmHWM (traced run)" \
	"$(v "${hwm[ember16]:-}")" "$(v "${hwm[ember256]:-}")" "$(v "${hwm[qemu16]:-}")" "$(v "${hwm[qemu256]:-}")"
mrow "guest RAM resident (traced run)" \
	"$(v "${guestkib[ember16]:-}")" "$(v "${guestkib[ember256]:-}")" "$(v "${guestkib[qemu16]:-}")" "$(v "${guestkib[qemu256]:-}")"
mrow "VMM overhead = VmHWM - guest RAM resident" \
	"$(sub "${hwm[ember16]:-}" "${guestkib[ember16]:-}")" "$(sub "${hwm[ember256]:-}" "${guestkib[ember256]:-}")" \
	"$(sub "${hwm[qemu16]:-}" "${guestkib[qemu16]:-}")" "$(sub "${hwm[qemu256]:-}" "${guestkib[qemu256]:-}")"
floor=n/a
[ -s "$tmp/prexec" ] && floor=$(sort -g "$tmp/prexec" | tail -n 1)
echo "  * ru_maxrss comes from the kernel's per-CPU RSS counters and may read a little low; it is"
echo "    also at least the forked helper's RSS just before exec (at most $floor KiB in these runs)."
echo "    VmHWM and guest RAM resident: /proc/PID/status and /proc/PID/smaps, sampled under ptrace"
echo "    just before the guest RAM mapping is unmapped or the process exits (tests/bench/firstbyte.c)."
echo "    Guest RAM resident = Rss of the guest RAM mapping: pages the VMM wrote while loading and"
echo "    setting up the guest, pages the guest touched, and huge pages (QEMU asks for THP)."
echo

# ---- binary size ----------------------------------------------------------------------

echo "Binary size"
if [ -f "$EMBER" ]; then
	esz=$(stat -c %s "$EMBER")
	if strip -o "$tmp/ember.stripped" "$EMBER" 2>/dev/null; then
		ess=$(stat -c %s "$tmp/ember.stripped")
	else
		ess=n/a
	fi
	if ldd "$EMBER" >/dev/null 2>&1; then elink="dynamic: shared libraries not counted"; else elink="static, no shared libraries"; fi
	printf '  %-8s %s (%s bytes; stripped %s), %s\n' "ember" "$(human "$esz")" "$esz" "$(human "$ess")" "$elink"
else
	printf '  %-8s n/a\n' "ember"
fi
qpath=$(command -v "$QEMU" 2>/dev/null)
if [ -n "$qpath" ]; then
	qsz=$(stat -L -c %s "$qpath")
	# Every file ldd resolves ("lib => /path (addr)" and the loader "/path (addr)"),
	# symlinks resolved, each counted once; linux-vdso has no file.
	libs=$(ldd "$qpath" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) { print $i; break } }' |
		xargs -r readlink -f | sort -u)
	nlibs=$(printf '%s\n' "$libs" | grep -c . )
	lsz=0
	[ "$nlibs" -gt 0 ] && lsz=$(printf '%s\n' "$libs" | xargs stat -c %s | awk '{ s += $1 } END { print s + 0 }')
	fw=/usr/share/qemu/bios-microvm.bin
	fsz=0
	[ -e "$fw" ] && fsz=$(stat -L -c %s "$fw")
	printf '  %-8s %s = %s %s + %s shared libraries (sum of ldd-resolved files) %s + firmware %s %s\n' \
		"QEMU" "$(human $((qsz + lsz + fsz)))" "$(basename "$qpath")" "$(human "$qsz")" "$nlibs" "$(human "$lsz")" \
		"$(basename "$(readlink -f "$fw" 2>/dev/null || echo "$fw")")" "$(human "$fsz")"
	printf '  %-8s %s (stripped ember / QEMU total)\n' "ratio" "$(ratio "${ess:-n/a}" $((qsz + lsz + fsz)))"
else
	printf '  %-8s n/a (%s not found)\n' "QEMU" "$QEMU"
fi
echo

# ---- Linux boot ------------------------------------------------------------------------

echo "Linux boot (ember's default guest: $LINUX_KERNEL + $LINUX_INITRD)"
if [ "$LINUX" = 0 ]; then
	echo "  skipped (BENCH_LINUX=0)"
elif [ ! -f "$LINUX_KERNEL" ] || [ ! -f "$LINUX_INITRD" ]; then
	echo "  n/a: $LINUX_KERNEL or $LINUX_INITRD missing (make guest)"
elif [ ! -x "$EMBER" ] || [ ! -x "$FB" ]; then
	echo "  n/a: $EMBER or $FB missing"
else
	echo "  one run: $EMBER run --boot-timer -- true"
	line=$("$FB" -t "$LINUX_TIMEOUT" -o "$tmp/linux.out" -- "$EMBER" run --boot-timer -- true 2>"$tmp/linux.err")
	boot=$(grep -o 'boot took [0-9.]* ms' "$tmp/linux.err" | head -n 1 | awk '{ print $3 }')
	printf '  %-34s %s\n' "boot-timer (exec -> init starts)" "$( [ -n "$boot" ] && echo "$boot ms" || echo n/a)"
	printf '  %-34s %s\n' "exec -> ember exit (wall)" "$( [ -n "$(kv "$line" exit_ms)" ] && printf '%.1f ms' "$(kv "$line" exit_ms)" || echo n/a)"
	printf '  %-34s %s\n' "exit status" "$(v "$(kv "$line" status)")$( [ "$(kv "$line" timeout)" = 1 ] && echo " (killed after ${LINUX_TIMEOUT}s)")"
	if [ "$(kv "$line" status)" != 0 ] && [ -s "$tmp/linux.err" ]; then
		echo "  stderr: $(tail -n 3 "$tmp/linux.err" | tr '\n' ' ' | cut -c 1-200)"
	fi
fi
if [ -d /sys/module/kvm_pvm ]; then
	echo "  QEMU: not run. On this kvm_pvm host QEMU 7.2 microvm died on a Linux kernel with an"
	echo "        emulation failure (pvm-notes.md: KVM hands instructions such as clac/stac back to"
	echo "        user space here, which ember's arch/x86/pvm.c handles and QEMU does not), and a"
	echo "        try takes minutes."
else
	echo "  QEMU: not measured by this script (the guest's init speaks ember's exit-port protocol)."
fi
# ---- Linux guests: shared helpers ---------------------------------------------------
#
# The two sections below boot ember's default Linux guest (about 20 s per boot
# on a kvm_pvm host; one VM at a time).  QEMU microvm boots the same kernel
# and initramfs with the command line ember would give it, where it can: on a
# kvm_pvm host it cannot (pvm-notes.md: it dies on an emulation failure that
# ember's arch/x86/pvm.c handles), and a try costs minutes, so it is skipped
# there.  BENCH_QEMU_LINUX=1 forces the QEMU runs anyway, e.g. with
# BENCH_QEMU_ACCEL=tcg to check this script's QEMU path on such a host (TCG
# figures say nothing about QEMU under KVM).

CLK_TCK=$(getconf CLK_TCK 2>/dev/null)
case $CLK_TCK in '' | *[!0-9]* | 0) CLK_TCK=100 ;; esac

# posint VALUE DEFAULT: VALUE if it is a positive integer, else DEFAULT.
posint() { case $1 in '' | *[!0-9]* | 0) echo "$2" ;; *) echo "$1" ;; esac; }

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

# pctenc STRING: into REPLY, as ember's cmdline_append_encoded (boot/cmdline.c)
# writes it on the kernel command line: [A-Za-z0-9/_.,:+=-] as they are,
# every other byte as %XX (the guest's init decodes it).
pctenc() {
	local LC_ALL=C s=$1 out="" c i
	for ((i = 0; i < ${#s}; i++)); do
		c=${s:i:1}
		case $c in
		[A-Za-z0-9/_.,:+=-]) out+=$c ;;
		*) printf -v c '%%%02X' "'$c"; out+=$c ;;
		esac
	done
	REPLY=$out
}

# qemu_linux_cmd MEM DISK|"" ARGS...: QEMU microvm running ARGS as the guest
# command, into QCMD.  The -append string is what vm/vm.c build_cmdline gives
# the kernel for `ember run -- ARGS` without a terminal, minus what only
# applies to ember's devices: arch_default_cmdline's words (no kvm_pvm words:
# QEMU does not run here on such a host), "quiet", then one ember.arg= per
# argument.  Not "ember.stdio=split": QEMU has no virtio consoles here, so
# init leaves the command on /dev/console (ttyS0, -serial stdio).  QEMU adds
# the virtio_mmio.device= words itself, but only with acpi=off (QEMU 7.2
# describes the devices in ACPI otherwise, and ember's kernel has no ACPI).
# -name debug-threads=on names the threads ("CPU 0/KVM", "worker", ...).
qemu_linux_cmd() {
	local mem=$1 disk=$2 append="console=ttyS0 reboot=k panic=-1 quiet" a
	shift 2
	for a in "$@"; do
		pctenc "$a"
		append+=" ember.arg=$REPLY"
	done
	QCMD=("$QEMU" -M "$QEMU_LINUX_MACHINE" -accel "$QEMU_ACCEL" -cpu "$QEMU_CPU" -m "$mem" -smp 1
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot
		-name ember-bench,debug-threads=on
		-kernel "$LINUX_KERNEL" -initrd "$LINUX_INITRD" -append "$append"
		-device isa-debug-exit,iobase=0x501,iosize=1)
	[ -z "$disk" ] || QCMD+=(-drive "id=d0,file=$disk,format=raw,if=none" -device virtio-blk-device,drive=d0)
	# x86 Linux keeps 2047 bytes of command line (COMMAND_LINE_SIZE) and
	# QEMU would pass a longer one on truncated.
	[ ${#append} -le 2047 ]
}

# linux_ready: "" if ember's Linux guest can run, else why not.
linux_ready() {
	if [ ! -f "$LINUX_KERNEL" ] || [ ! -f "$LINUX_INITRD" ]; then
		echo "$LINUX_KERNEL or $LINUX_INITRD missing (make guest)"
	elif [ ! -x "$EMBER" ]; then
		echo "$EMBER missing (make ember)"
	fi
}

# Host CPU time of threads, read from /proc without forking (the block
# section samples while the guest waits, so sampling must be quick).
#
# thread_ns DIR: CPU time (user+sys) of the thread /proc/PID/task/TID in ns,
# into REPLY.  schedstat's first field is the scheduler's exact run time;
# without it (no CONFIG_SCHED_INFO), utime+stime from stat in clock ticks.
thread_ns() {
	local ns rest
	if read -r ns rest 2>/dev/null <"$1/schedstat" && [ -n "$ns" ]; then
		REPLY=$ns
		return 0
	fi
	thread_ticks "$1" || return 1
	REPLY=$((REPLY * 1000000000 / CLK_TCK))
}

# thread_ticks DIR: utime+stime of /proc/PID or /proc/PID/task/TID in clock
# ticks, into REPLY (for /proc/PID: every thread, exited ones included).
thread_ticks() {
	local line
	read -r line 2>/dev/null <"$1/stat" || return 1
	line=${line##*) } # after "pid (comm) ": field 3 (state) onwards
	set -- $line
	REPLY=$((${12} + ${13}))
}

# thread_class VMM PID TID COMM: into REPLY, what the thread is.
#   vcpu  ember's vCPU threads (unnamed: comm "ember", not the main thread;
#         "ember-vcpu*"/"vcpu*" too, should they get names), QEMU's "CPU n/KVM"
#   io    the thread(s) that serve the disk: ember's blk worker "ember-blk";
#         QEMU without an iothread: its main loop (virtqueue processing,
#         the main thread) and the thread pool ("worker") that does the
#         preadv/pwritev for its default aio=threads
#   main  ember's main thread (event loop, consoles)
#   other everything else (ember-9p, QEMU's call_rcu, ...)
thread_class() {
	case $1:$4 in
	ember:ember-blk) REPLY=io ;;
	ember:ember-vcpu* | ember:vcpu*) REPLY=vcpu ;;
	ember:ember) if [ "$2" = "$3" ]; then REPLY=main; else REPLY=vcpu; fi ;;
	qemu:CPU\ */KVM | qemu:CPU\ */TCG) REPLY=vcpu ;;
	qemu:worker) REPLY=io ;;
	qemu:*) if [ "$2" = "$3" ]; then REPLY=io; else REPLY=other; fi ;;
	*) REPLY=other ;;
	esac
}

# snap_threads VMM PID ARRAY: ARRAY[tid]="class ns" for every live thread.
snap_threads() {
	local vmm=$1 pid=$2 d tid comm cls
	local -n _snap=$3
	_snap=()
	for d in /proc/"$pid"/task/*; do
		tid=${d##*/}
		read -r comm 2>/dev/null <"$d/comm" || continue
		thread_class "$vmm" "$pid" "$tid" "$comm"
		cls=$REPLY
		thread_ns "$d" || continue
		_snap[$tid]="$cls $REPLY"
	done
}

# delta_ns START END CLASS: into REPLY, the CPU ns that threads of CLASS used
# between two snapshots.  A thread new in END counts from 0; a thread that
# exited in between is lost (QEMU's pool threads live 10 s idle, so not
# within a phase).
delta_ns() {
	local -n _a=$1 _b=$2
	local tid cls ns old sum=0
	for tid in "${!_b[@]}"; do
		read -r cls ns <<<"${_b[$tid]}"
		[ "$cls" = "$3" ] || continue
		old=0
		[ -n "${_a[$tid]:-}" ] && old=${_a[$tid]#* }
		sum=$((sum + ns - old))
	done
	REPLY=$sum
}

# ---- block I/O ---------------------------------------------------------------------
#
# One Linux boot per VMM with a 256 MiB sparse raw image as /dev/vda.  The
# guest script (blk_guest_script) runs four sequential O_DIRECT dd phases:
# write 4 KiB blocks, read them back, then the same with 64 KiB blocks.
#
# Per-phase host CPU, design: the guest prints "phase NAME start", sleeps
# 0.2 s, runs dd between two reads of /proc/uptime, then prints
# "phase NAME end T0 T1" (or "phase NAME failed: WHY").  bash reads the
# VMM's stdout line by line from a FIFO and, on each marker, snapshots the
# CPU time of every VMM thread (/proc/PID/task/*/schedstat: ns, no fork).
# The disk is idle between phases (dd with O_DIRECT has no request in
# flight once it returns and nothing else uses vda), so the snapshot at
# "end" holds all of the phase's I/O work, and the 0.2 s sleep after
# "start" lets the snapshot land before dd issues its first request, however
# long the marker takes to arrive.  Guest MiB/s come from the guest's own
# clock (T0, T1; /proc/uptime has 10 ms resolution, the phases take
# seconds); busybox dd prints no timing and busybox date has no %N.
# After the last phase the guest prints "bench-blk-done" and bash takes the
# whole-process CPU split from /proc/PID/stat (boot + I/O, every thread,
# exited ones too) and /proc/PID/task/*/stat.

# The guest's script: sh -c SCRIPT sh COUNT4K COUNT64K.  It stays short:
# it travels percent-encoded on the kernel command line.
blk_guest_script() {
	cat <<'GUEST'
ph() {
echo "phase $1 start"
sleep 0.2
read a x </proc/uptime
dd if=$4 of=$5 bs=$2 count=$3 $6 2>/tmp/e
r=$?
read b x </proc/uptime
if [ $r = 0 ] && grep -q "^$3+0 records out" /tmp/e; then echo "phase $1 end $a $b"
else echo "phase $1 failed: dd exit $r: $(tail -n 1 /tmp/e)"; fi
}
ph w4k 4k $1 /dev/zero /dev/vda oflag=direct
ph r4k 4k $1 /dev/vda /dev/null iflag=direct
ph w64k 64k $2 /dev/zero /dev/vda oflag=direct
ph r64k 64k $2 /dev/vda /dev/null iflag=direct
echo bench-blk-done
GUEST
}

BLK_PHASES="w4k r4k w64k r64k"
blk_phase_label() {
	case $1 in
	w4k) echo "write, 4 KiB blocks" ;; r4k) echo "read, 4 KiB blocks" ;;
	w64k) echo "write, 64 KiB blocks" ;; r64k) echo "read, 64 KiB blocks" ;;
	esac
}
blk_phase_mib() { case $1 in ?4k) echo "$BLK_MIB_4K" ;; ?64k) echo "$BLK_MIB_64K" ;; esac; }

# blk_run VMM: one boot of VMM (ember|qemu) through the phases.  Results in
# $tmp/blk.VMM.*: .phases ("NAME MIB T0 T1 IO_NS" per phase),
# .split ("VCPU_MS IO_MS MAIN_MS TOTAL_MS"), .why (first failure), .out
# (the guest's output), .err (the VMM's stderr).  Never fails the script.
blk_run() {
	local vmm=$1 pre=$tmp/blk.$1 img=$BLK_DIR/ember-bench-blk.$$.img fifo=$tmp/blk.fifo
	local pid line deadline want rc
	# shellcheck disable=SC2034 # s0, s1: filled and read through namerefs
	local -A s0=() s1=()
	rm -f "$pre".* "$fifo"
	if ! { rm -f "$img" && truncate -s 256M "$img"; } 2>"$pre.err"; then
		echo "cannot create the image in $BLK_DIR: $(head -n 1 "$pre.err")" >"$pre.why"
		return
	fi
	mkfifo "$fifo" || { echo "mkfifo failed" >"$pre.why"; rm -f "$img"; return; }
	if [ "$vmm" = ember ]; then
		want=0
		"$EMBER" run --mem "$BLK_MEM" --disk "$img" -- \
			/bin/sh -c "$(blk_guest_script)" sh "$BLK_COUNT_4K" "$BLK_COUNT_64K" \
			>"$fifo" 2>"$pre.err" </dev/null &
	else
		want=1 # isa-debug-exit: status 0 -> exit code 1
		if ! qemu_linux_cmd "$BLK_MEM" "$img" /bin/sh -c "$(blk_guest_script)" sh "$BLK_COUNT_4K" "$BLK_COUNT_64K"; then
			echo "guest command line longer than 2047 bytes" >"$pre.why"
			rm -f "$img" "$fifo"
			return
		fi
		"${QCMD[@]}" >"$fifo" 2>"$pre.err" </dev/null &
	fi
	pid=$!
	deadline=$((SECONDS + BLK_TIMEOUT))
	while [ $SECONDS -lt $deadline ] &&
		{ IFS= read -r -t $((deadline - SECONDS)) line || [ -n "$line" ]; }; do
		line=${line%$'\r'}
		printf '%s %s\n' "$EPOCHREALTIME" "$line" >>"$pre.out" # host time, guest line
		case $line in
		"phase "*" start")
			snap_threads "$vmm" "$pid" s0
			;;
		"phase "*" end "*)
			snap_threads "$vmm" "$pid" s1
			set -- $line # phase NAME end T0 T1
			delta_ns s0 s1 io
			echo "$2 $(blk_phase_mib "$2") $4 $5 $REPLY" >>"$pre.phases"
			;;
		"phase "*" failed"*)
			[ -s "$pre.why" ] || echo "${line#phase }" >"$pre.why"
			;;
		bench-blk-done)
			blk_split "$vmm" "$pid" >"$pre.split"
			;;
		esac
		line=
	done <"$fifo"
	# EOF: the VMM closed its stdout, normally by exiting; give it until
	# the deadline to do so.
	while [ $SECONDS -lt $deadline ] && alive "$pid"; do sleep 0.2; done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		[ -s "$pre.why" ] || echo "killed after ${BLK_TIMEOUT}s (BENCH_BLK_TIMEOUT)" >"$pre.why"
	fi
	wait "$pid"
	rc=$?
	if [ "$rc" != "$want" ] && [ ! -s "$pre.why" ]; then
		echo "exit status $rc$([ -s "$pre.err" ] && echo ": $(tail -n 2 "$pre.err" | tr '\r\n' '  ' | cut -c 1-200)")" >"$pre.why"
	elif [ ! -s "$pre.split" ] && [ ! -s "$pre.why" ]; then
		echo "the guest script did not finish (exit status $rc)" >"$pre.why"
	fi
	rm -f "$img" "$fifo"
}

# alive PID: the process exists and has not exited (a zombie has).
alive() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

# blk_split VMM PID: "VCPU_MS IO_MS MAIN_MS TOTAL_MS" of the process so far.
# Clock ticks throughout (per thread and for the whole process alike), so
# the parts and the total add up; "rest" = total - vCPU - I/O - main thread
# holds threads that exited and the other named threads.
blk_split() {
	local vmm=$1 pid=$2 d tid comm total cls
	local -A sum=([vcpu]=0 [io]=0 [main]=0 [other]=0)
	thread_ticks "/proc/$pid" || return
	total=$REPLY
	for d in /proc/"$pid"/task/*; do
		tid=${d##*/}
		read -r comm 2>/dev/null <"$d/comm" || continue
		thread_class "$vmm" "$pid" "$tid" "$comm"
		cls=$REPLY
		thread_ticks "$d" || continue
		sum[$cls]=$((sum[$cls] + REPLY))
	done
	echo "$((sum[vcpu] * 1000 / CLK_TCK)) $((sum[io] * 1000 / CLK_TCK)) $((sum[main] * 1000 / CLK_TCK)) $((total * 1000 / CLK_TCK))"
}

# blk_fig VMM PHASE mibs|cpu: a figure of one phase, n/a if missing.
#   mibs  guest MiB/s;  cpu  host CPU ms per MiB of the I/O thread(s)
blk_fig() {
	local f=$tmp/blk.$1.phases
	[ -s "$f" ] || { echo n/a; return; }
	awk -v p="$2" -v what="$3" '$1 == p {
			t = $4 - $3
			if (what == "mibs") { if (t > 0) printf "%.2f\n", $2 / t; else print "n/a" }
			else printf "%.3f\n", $5 / 1e6 / $2
			found = 1; exit
		}
		END { if (!found) print "n/a" }' "$f"
}

bench_blk() {
	local qwhy why p
	echo "Block I/O: sequential O_DIRECT dd in the Linux guest on a 256 MiB sparse raw image (virtio-blk)"
	if [ "${BENCH_BLK:-1}" = 0 ]; then
		echo "  skipped (BENCH_BLK=0)"
		echo
		return
	fi
	BLK_MIB_4K=$(posint "${BENCH_BLK_MIB_4K:-}" 4)
	BLK_MIB_64K=$(posint "${BENCH_BLK_MIB_64K:-}" 16)
	[ "$BLK_MIB_4K" -le 256 ] || BLK_MIB_4K=256
	[ "$BLK_MIB_64K" -le 256 ] || BLK_MIB_64K=256
	BLK_COUNT_4K=$((BLK_MIB_4K * 256))
	BLK_COUNT_64K=$((BLK_MIB_64K * 16))
	BLK_TIMEOUT=$(posint "${BENCH_BLK_TIMEOUT:-}" 600)
	BLK_DIR=${BENCH_BLK_DIR:-$tmp}
	BLK_MEM=256M
	echo "  guest:  dd if=/dev/zero of=/dev/vda oflag=direct, then dd if=/dev/vda of=/dev/null iflag=direct:"
	echo "          $BLK_MIB_4K MiB with bs=4k, then $BLK_MIB_64K MiB with bs=64k (BENCH_BLK_MIB_4K, BENCH_BLK_MIB_64K);"
	echo "          MiB/s from the guest's clock around each dd; one boot per VMM, $BLK_MEM guest RAM"
	echo "  image:  $BLK_DIR ($(stat -f -c %T "$BLK_DIR" 2>/dev/null || echo '?')), page cache warm after the writes"
	echo "  CPU:    host CPU time of the thread(s) serving the disk, per MiB moved (what the VMM controls;"
	echo "          guest code is slow on kvm_pvm): ember = its blk worker \"ember-blk\"; QEMU = its main"
	echo "          loop (no iothread) + thread pool \"worker\" threads (-drive aio=threads, the default)"
	why=$(linux_ready)
	if [ -n "$why" ]; then
		echo "  n/a: $why"
		echo
		return
	fi
	qwhy=$(qemu_linux_reason)
	blk_run ember
	if [ -z "$qwhy" ]; then
		blk_run qemu
	else
		echo "n/a ($qwhy)" >"$tmp/blk.qemu.why"
	fi

	echo
	row "guest throughput, MiB/s" "ember" "QEMU microvm" "ember/QEMU"
	for p in $BLK_PHASES; do
		row "  $(blk_phase_label "$p")" "$(blk_fig ember "$p" mibs)" "$(blk_fig qemu "$p" mibs)" \
			"$(ratio "$(blk_fig ember "$p" mibs)" "$(blk_fig qemu "$p" mibs)")"
	done
	echo
	row "I/O thread CPU, ms per MiB" "ember" "QEMU microvm" "ember/QEMU (target <= 0.50)"
	for p in $BLK_PHASES; do
		row "  $(blk_phase_label "$p")" "$(blk_fig ember "$p" cpu)" "$(blk_fig qemu "$p" cpu)" \
			"$(ratio "$(blk_fig ember "$p" cpu)" "$(blk_fig qemu "$p" cpu)")"
	done
	echo
	blk_split_table
	blk_notes blk
	echo
}

# blk_notes blk|run: why a VMM's figures are missing or incomplete.
blk_notes() {
	[ -s "$tmp/$1.ember.why" ] && echo "  note: ember: $(cat "$tmp/$1.ember.why")"
	[ -s "$tmp/$1.qemu.why" ] && echo "  QEMU microvm: $(cat "$tmp/$1.qemu.why")"
	return 0
}

# The whole-run CPU split table from $tmp/blk.{ember,qemu}.split.
blk_split_table() {
	local v rest
	local -A ms=()
	for v in ember qemu; do
		[ -s "$tmp/blk.$v.split" ] || continue
		read -r "ms[$v.vcpu]" "ms[$v.io]" "ms[$v.main]" "ms[$v.total]" <"$tmp/blk.$v.split"
		rest=$((ms[$v.total] - ms[$v.vcpu] - ms[$v.io] - ms[$v.main]))
		[ $rest -ge 0 ] || rest=0
		ms[$v.rest]=$rest
	done
	# part VMM KEY: "MS (PCT%)" of the total, n/a if not measured.
	blk_part() {
		local x=${ms[$1.$2]:-} t=${ms[$1.total]:-}
		[ -n "$x" ] || { echo n/a; return; }
		awk -v x="$x" -v t="$t" 'BEGIN { p = t > 0 ? 100 * x / t : 0; printf "%d (%.1f%%)\n", x, p }'
	}
	row "process CPU, boot + I/O, ms" "ember" "QEMU microvm" "ember/QEMU"
	row "  vCPU threads" "$(blk_part ember vcpu)" "$(blk_part qemu vcpu)" "$(ratio "${ms[ember.vcpu]:-}" "${ms[qemu.vcpu]:-}")"
	row "  I/O thread(s)" "$(blk_part ember io)" "$(blk_part qemu io)" "$(ratio "${ms[ember.io]:-}" "${ms[qemu.io]:-}")"
	row "  main thread" "$(blk_part ember main)" "$([ -n "${ms[qemu.total]:-}" ] && echo "(in I/O)" || echo n/a)" ""
	row "  rest (other, exited threads)" "$(blk_part ember rest)" "$(blk_part qemu rest)" ""
	row "  total" "$(v "${ms[ember.total]:-}")" "$(v "${ms[qemu.total]:-}")" "$(ratio "${ms[ember.total]:-}" "${ms[qemu.total]:-}")"
	echo "  (utime+stime in clock ticks of 1/$CLK_TCK s from /proc, taken when the guest script ends;"
	echo "   ember's vCPU threads include its user-space handling of guest exits on kvm_pvm)"
}

# ---- one-shot run -------------------------------------------------------------------

# One `run -- true` of VMM under firstbyte; appends to $tmp/run.VMM.{wall,cpu,user,sys}
# on success, else keeps the first reason in $tmp/run.VMM.why.
run_once() {
	local vmm=$1 pre=$tmp/run.$1 line st want=0 cmd
	if [ "$vmm" = ember ]; then
		cmd=("$EMBER" run -- true)
	else
		want=1
		if ! qemu_linux_cmd 256M "" true; then
			echo "guest command line too long" >"$pre.why"
			echo x >>"$pre.fail"
			return
		fi
		cmd=("${QCMD[@]}")
	fi
	line=$("$FB" -t "$LINUX_TIMEOUT" -o "$pre.out" -- "${cmd[@]}" 2>"$pre.err")
	st=$(kv "$line" status)
	if [ -n "$line" ] && [ "$st" = "$want" ] && [ -n "$(kv "$line" user_ms)" ]; then
		kv "$line" exit_ms >>"$pre.wall"
		kv "$line" user_ms >>"$pre.user"
		kv "$line" sys_ms >>"$pre.sys"
		awk -v u="$(kv "$line" user_ms)" -v s="$(kv "$line" sys_ms)" 'BEGIN { print u + s }' >>"$pre.cpu"
		return
	fi
	echo x >>"$pre.fail"
	if [ ! -s "$pre.why" ]; then
		local why="status ${st:-?}"
		[ "$(kv "$line" timeout)" = 1 ] && why="killed after ${LINUX_TIMEOUT}s"
		[ -z "$line" ] && why="could not run"
		[ -s "$pre.err" ] && why="$why: $(tail -n 2 "$pre.err" | tr '\r\n' '  ' | cut -c 1-160)"
		echo "$why" >"$pre.why"
	fi
}

bench_run() {
	local n qwhy why i
	n=$(posint "${BENCH_RUN_RUNS:-}" 3)
	echo "One-shot run: \`ember run -- true\` (boot Linux, run the command, exit), median of $n runs (BENCH_RUN_RUNS)"
	if [ "${BENCH_RUN:-1}" = 0 ]; then
		echo "  skipped (BENCH_RUN=0)"
		echo
		return
	fi
	why=$(linux_ready)
	[ -n "$why" ] || [ -x "$FB" ] || why="$FB missing (make bench)"
	if [ -n "$why" ]; then
		echo "  n/a: $why"
		echo
		return
	fi
	qwhy=$(qemu_linux_reason)
	[ -n "$qwhy" ] || echo "  QEMU:   the same kernel, initramfs and command (ember.arg=true), -m 256M, as in the block section"
	[ -z "$qwhy" ] || echo "n/a ($qwhy)" >"$tmp/run.qemu.why"
	for ((i = 0; i < n; i++)); do
		run_once ember
		[ -n "$qwhy" ] || run_once qemu
	done
	echo
	row "ms, median" "ember" "QEMU microvm" "ember/QEMU"
	row "exec -> exit (wall)" "$(summ "$tmp/run.ember.wall" median)" "$(summ "$tmp/run.qemu.wall" median)" \
		"$(ratio "$(summ "$tmp/run.ember.wall" median)" "$(summ "$tmp/run.qemu.wall" median)")"
	row "host CPU, user + sys" "$(summ "$tmp/run.ember.cpu" median)" "$(summ "$tmp/run.qemu.cpu" median)" \
		"$(ratio "$(summ "$tmp/run.ember.cpu" median)" "$(summ "$tmp/run.qemu.cpu" median)")"
	row "  user" "$(summ "$tmp/run.ember.user" median)" "$(summ "$tmp/run.qemu.user" median)" ""
	row "  sys" "$(summ "$tmp/run.ember.sys" median)" "$(summ "$tmp/run.qemu.sys" median)" ""
	row "successful runs" "$(runs_ok ember "$n")" "$(runs_ok qemu "$n")" ""
	echo "  (CPU: ru_utime + ru_stime of the VMM process from wait4, all threads; on kvm_pvm the"
	echo "   guest's interpreted ring-0 code is system time of the vCPU threads)"
	blk_notes run
	echo
}
runs_ok() { # successful/total runs of VMM $1 ("-" if not run)
	local ok=0 bad=0
	[ -f "$tmp/run.$1.wall" ] && ok=$(wc -l <"$tmp/run.$1.wall")
	[ -f "$tmp/run.$1.fail" ] && bad=$(wc -l <"$tmp/run.$1.fail")
	[ $((ok + bad)) -gt 0 ] || { echo "-"; return; }
	echo "$ok/$((ok + bad))"
}

echo
bench_blk
bench_run
exit 0
