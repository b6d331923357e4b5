# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
#
# scripts/bench.sh, sections "times", "memory" and "binary size": the tiny
# guest under ember and QEMU microvm, and what each VMM weighs on disk.
#
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
#     resolves for it (each file counted once) plus its microvm firmware.
#
# Raw samples in $SCRATCH, per configuration C (ember16 ember256 qemu16
# qemu256): C.first, C.exit, C.rss (one number per timed run), C.fail (a
# line per failed run), C.why (the first failure), C.traced (firstbyte -m's
# line); prexec (the helper's RSS before exec, every run).  stats.py tiny
# makes the tables.

# Command line of configuration $1 (ember16 ember256 qemu16 qemu256) into CMD.
set_cmd() {
	local mem=${1#ember}; mem=${mem#qemu}
	# shellcheck disable=SC2054 # commas inside -M and -device values
	case $1 in
	ember*) CMD=("$EMBER" run --kernel "$GUEST" --mem "${mem}M") ;;
	qemu*) CMD=("$QEMU" -M "$QEMU_MACHINE" -accel kvm -cpu "$QEMU_TINY_CPU" -m "${mem}M"
		-nodefaults -no-user-config -nographic -serial stdio -no-reboot
		-kernel "$GUEST" -device isa-debug-exit,iobase=0x501,iosize=1) ;;
	esac
}
want_rc() { case $1 in ember*) echo 0 ;; qemu*) echo 1 ;; esac; }
mem_bytes() { local m=${1#ember}; m=${m#qemu}; echo $((m << 20)); }

# One timed run of configuration $1; on success appends to the sample files
# $SCRATCH/$1.first, .exit, .rss; on failure counts it and keeps the first
# reason.
timed_run() {
	local c=$1 line st
	set_cmd "$c"
	line=$("$FB" -t "$TIMEOUT" -o "$SCRATCH/out" -- "${CMD[@]}" 2>"$SCRATCH/err")
	st=$(kv "$line" status)
	if [ -n "$line" ] && [ "$st" = "$(want_rc "$c")" ] && grep -q 'bench-ok' "$SCRATCH/out" &&
		[ "$(kv "$line" first_ms)" != na ]; then
		kv "$line" first_ms >>"$SCRATCH/$c.first"
		kv "$line" exit_ms >>"$SCRATCH/$c.exit"
		kv "$line" maxrss_kib >>"$SCRATCH/$c.rss"
		kv "$line" prexec_kib >>"$SCRATCH/prexec"
		return 0
	fi
	echo x >>"$SCRATCH/$c.fail"
	if [ ! -s "$SCRATCH/$c.why" ]; then
		local why="status ${st:-?}"
		[ "$(kv "$line" timeout)" = 1 ] && why="timed out after ${TIMEOUT}s"
		[ -z "$line" ] && why="could not run"
		[ -s "$SCRATCH/err" ] && why="$why: $(head -n 2 "$SCRATCH/err" | tr '\n' ' ' | cut -c 1-160 | sed 's/ *$//')"
		grep -q 'bench-ok' "$SCRATCH/out" 2>/dev/null || why="$why (no bench-ok on stdout)"
		echo "$why" >"$SCRATCH/$c.why"
	fi
	return 1
}

# The tiny guest's times and memory: warm-up, BENCH_RUNS interleaved timed
# runs, one traced run per configuration, then the tables.
bench_tiny() {
	local configs=() skip_ember="" skip_qemu="" c i line
	if [ ! -x "$FB" ] || [ ! -f "$GUEST" ]; then
		skip_ember="$FB or $GUEST missing (run: make bench)"
		skip_qemu=$skip_ember
	else
		[ -x "$EMBER" ] || skip_ember="$EMBER missing (run: make ember)"
		command -v "$QEMU" >/dev/null 2>&1 || skip_qemu="$QEMU not installed (apt-get install qemu-system-x86)"
	fi
	for c in ember16 ember256 qemu16 qemu256; do
		case $c in ember*) [ -n "$skip_ember" ] && continue ;; qemu*) [ -n "$skip_qemu" ] && continue ;; esac
		# Warm-up (page cache, first-use costs); a configuration that fails
		# here is not timed, and says why.
		if timed_run "$c"; then
			configs+=("$c")
		else
			echo "  note: $c warm-up run failed: $(cat "$SCRATCH/$c.why")"
		fi
		rm -f "$SCRATCH/$c.first" "$SCRATCH/$c.exit" "$SCRATCH/$c.rss" "$SCRATCH/$c.fail" "$SCRATCH/$c.why"
	done
	[ -n "$skip_ember" ] && echo "  note: ember not measured: $skip_ember"
	[ -n "$skip_qemu" ] && echo "  note: QEMU not measured: $skip_qemu"

	for ((i = 0; i < RUNS; i++)); do
		for c in "${configs[@]}"; do
			timed_run "$c"
		done
	done

	# Memory: one traced run each.
	for c in "${configs[@]}"; do
		set_cmd "$c"
		line=$("$FB" -m "$(mem_bytes "$c")" -t "$((TIMEOUT * 4))" -- "${CMD[@]}" 2>/dev/null)
		[ "$(kv "$line" status)" = "$(want_rc "$c")" ] && echo "$line" >"$SCRATCH/$c.traced"
	done

	bench_stats tiny "$SCRATCH"
}

# Binary sizes: the byte counts and the files they come from; stats.py size
# adds them up.
bench_size() {
	local size=() link qpath fw=/usr/share/qemu/bios-microvm.bin
	if [ -f "$EMBER" ]; then
		size+=(--ember-bytes "$(stat -c %s "$EMBER")")
		if strip -o "$SCRATCH/ember.stripped" "$EMBER" 2>/dev/null; then
			size+=(--ember-stripped-bytes "$(stat -c %s "$SCRATCH/ember.stripped")")
		fi
		if ldd "$EMBER" >/dev/null 2>&1; then link="dynamic: shared libraries not counted"; else link="static, no shared libraries"; fi
		size+=(--ember-link "$link")
	fi
	qpath=$(command -v "$QEMU" 2>/dev/null)
	if [ -n "$qpath" ]; then
		# Every file ldd resolves ("lib => /path (addr)" and the loader
		# "/path (addr)"), symlinks resolved, each counted once; linux-vdso
		# has no file.  Their sizes go to size.libs, one a line.
		ldd "$qpath" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) { print $i; break } }' |
			xargs -r readlink -f | sort -u | xargs -r stat -c %s >"$SCRATCH/size.libs"
		size+=(--qemu "$qpath" --qemu-bytes "$(stat -L -c %s "$qpath")" --libs "$SCRATCH/size.libs")
		size+=(--firmware "$(basename "$(readlink -f "$fw" 2>/dev/null || echo "$fw")")")
		[ -e "$fw" ] && size+=(--firmware-bytes "$(stat -L -c %s "$fw")")
	else
		size+=(--qemu "$QEMU")
	fi
	bench_stats size "${size[@]}"
}
