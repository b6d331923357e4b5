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
#     (build/guest/bzImage + initramfs.cpio) when they exist.
#
# Environment:
#   BENCH_RUNS=20          timed runs per configuration
#   BENCH_LINUX=1          0 skips the Linux boot
#   BENCH_TIMEOUT=30       seconds before one tiny-guest run is killed
#   BENCH_LINUX_TIMEOUT=600
#   BENCH_QEMU=qemu-system-x86_64
#   BENCH_QEMU_MACHINE=microvm,...   the -M argument (default below)
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
TIMEOUT=${BENCH_TIMEOUT:-30}
LINUX=${BENCH_LINUX:-1}
LINUX_TIMEOUT=${BENCH_LINUX_TIMEOUT:-600}
LINUX_KERNEL=build/guest/bzImage
# rootfs/rootfs.mk's output: initramfs.cpio (older trees: initramfs.cpio.gz).
LINUX_INITRD=build/guest/initramfs.cpio
[ -f "$LINUX_INITRD" ] || [ ! -f "$LINUX_INITRD.gz" ] || LINUX_INITRD=$LINUX_INITRD.gz

case $RUNS in '' | *[!0-9]* | 0) echo "bench: BENCH_RUNS=$RUNS: not a positive number, using 20" >&2; RUNS=20 ;; esac

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
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
exit 0
