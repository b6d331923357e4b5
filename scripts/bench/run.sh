# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
#
# scripts/bench.sh, section "One-shot run" (bench_run): `ember run --cold -- true`
# (boot Linux, run the command, exit; warm.sh has the runs that restore) under firstbyte, BENCH_RUN_RUNS times
# per VMM; QEMU microvm runs the same kernel, initramfs and command where
# it can (lib.sh).  Raw samples, one line per successful run, in
# $SCRATCH/run.VMM.wall, .user, .sys (ms: exec -> exit, ru_utime, ru_stime);
# .fail (a line per failed run), .why (the first failure).  stats.py run
# makes the medians (of user + sys per run, too) and the table.

# One `run -- true` of VMM ember|qemu: appends to $SCRATCH/run.VMM.{wall,user,sys}
# on success, else counts the failure and keeps the first reason.
run_once() {
	local vmm=$1 pre=$SCRATCH/run.$1 line st want=0 cmd
	if [ "$vmm" = ember ]; then
		cmd=("$EMBER" run --cold -- true) # a boot, as QEMU's (warm runs: warm.sh)
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
	echo "One-shot run: \`ember run --cold -- true\` (boot Linux, run the command, exit), median of $n runs (BENCH_RUN_RUNS)"
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
	[ -n "$qwhy" ] || echo "  QEMU:   the same kernel, initramfs and command (init runs "true" given after "--"), -m 256M, as in the block section"
	[ -z "$qwhy" ] || echo "n/a ($qwhy)" >"$SCRATCH/run.qemu.why"
	for ((i = 0; i < n; i++)); do
		run_once ember
		[ -n "$qwhy" ] || run_once qemu
	done
	bench_stats run "$SCRATCH"
}
