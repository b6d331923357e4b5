# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
#
# scripts/bench.sh, section "Warm start" (bench_warm): `ember run -- true`
# booting Linux (--cold), the first run that boots and saves the booted
# guest, and the runs after that restore it, under firstbyte (exec -> exit,
# CPU); restore time alone and the save's time from ember's --verbose lines
# ("warm start: booted guest saved ... in X ms", "restored ... in X ms":
# exec -> the guest running again); the snapshot's size on disk for 256 MiB
# and 1 GiB guests; and a sparse-raw snapshot against an LZ4 one of the
# same running guest (`ember snapshot [--compress]`), restored by
# `ember restore` (mapped copy-on-write vs decompressed in parallel).
# Every run uses --verbose (the warm cache keys on it) and a cache of its
# own ($SCRATCH/warm-cache).  QEMU microvm has no snapshot of a booted
# guest to restore from the command line: "n/a".
#
# Raw samples, in $SCRATCH/warm.*:
#   .KIND.{wall,user,sys}  ms per run, KIND cold | first | warm
#   .KIND.fail / .KIND.why failed runs and the first reason
#   .saved    "ms MiB" of the first run's save
#   .restored ms per warm run (exec -> guest running)
#   .size     "RAM apparent_bytes disk_bytes" per guest size
#   .format   "sparse|lz4 disk_bytes restore_ms" per snapshot format

warm_once() { # KIND MEM: one run into $SCRATCH/warm.KIND.*
	local kind=$1 mem=$2 pre=$SCRATCH/warm.$1 line st extra=()
	[ "$kind" = cold ] && extra=(--cold)
	line=$(XDG_CACHE_HOME=$SCRATCH/warm-cache "$FB" -t "$LINUX_TIMEOUT" -o "$pre.out" -- \
		"$EMBER" run --verbose --mem "$mem" "${extra[@]}" -- true 2>"$pre.err")
	st=$(kv "$line" status)
	if [ -n "$line" ] && [ "$st" = 0 ]; then
		kv "$line" exit_ms >>"$pre.wall"
		kv "$line" user_ms >>"$pre.user"
		kv "$line" sys_ms >>"$pre.sys"
	else
		echo x >>"$pre.fail"
		[ -s "$pre.why" ] || echo "status ${st:-?}: $(grep 'ember:' "$pre.err" | tail -n 1 | cut -c 1-160)" >"$pre.why"
	fi
	sed -n 's/.*booted guest saved to .* (\([0-9.]*\) MiB on disk) in \([0-9.]*\) ms.*/\2 \1/p' "$pre.err" >>"$SCRATCH/warm.saved"
	sed -n 's/.*warm start: restored .* in \([0-9.]*\) ms.*/\1/p' "$pre.err" >>"$SCRATCH/warm.restored"
}

warm_entry_size() { # RAM: the cache entry's memory file, apparent and on disk
	local m
	m=$(ls -t "$SCRATCH"/warm-cache/ember/warm/*/memory 2>/dev/null | head -n 1)
	[ -n "$m" ] && echo "$1 $(stat -c %s "$m") $(($(stat -c %b "$m") * $(stat -c %B "$m")))" >>"$SCRATCH/warm.size"
}

# Sparse vs LZ4: a warm guest resumed with --snapshot-to, saved both ways,
# each restored three times (`ember restore` until its --timeout).
warm_formats() {
	local d=$SCRATCH/warm-vm entry pid fmt i t
	entry=$(dirname "$(ls -t "$SCRATCH"/warm-cache/ember/warm/*/state | tail -n 1)")
	"$EMBER" restore --snapshot-to "$d" "$entry" >/dev/null 2>"$SCRATCH/warm.fmt.err" &
	pid=$!
	for _ in $(seq 1 50); do [ -S "$d/control" ] && break; sleep 0.1; done
	for fmt in sparse lz4; do
		local flag=()
		[ "$fmt" = lz4 ] && flag=(--compress)
		if ! "$EMBER" snapshot "${flag[@]}" "$d" >>"$SCRATCH/warm.fmt.err" 2>&1; then
			continue
		fi
		cp -r "$d/snapshot" "$SCRATCH/warm-$fmt"
		for i in 1 2 3; do
			t=$("$EMBER" restore --timeout 1 "$SCRATCH/warm-$fmt" 2>&1 >/dev/null |
				sed -n 's/.*ember: restored .* in \([0-9.]*\) ms.*/\1/p')
			[ -n "$t" ] && echo "$fmt $(($(stat -c %b "$SCRATCH/warm-$fmt/memory") * 512)) $t" >>"$SCRATCH/warm.format"
		done
	done
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
}

bench_warm() {
	local n why i
	n=$(posint "${BENCH_WARM_RUNS:-}" 5)
	echo "Warm start: \`ember run -- true\` booting Linux vs restoring a booted guest ($n warm runs, BENCH_WARM_RUNS)"
	if [ "${BENCH_WARM:-1}" = 0 ]; then
		echo "  skipped (BENCH_WARM=0)"
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
	warm_once cold 256M
	warm_once first 256M
	warm_entry_size 256M
	for ((i = 0; i < n; i++)); do
		warm_once warm 256M
	done
	warm_formats
	if [ "${BENCH_WARM_1G:-1}" = 1 ]; then
		local keep=$SCRATCH/warm.saved
		mv "$keep" "$keep.256"
		warm_once first1g 1G
		warm_entry_size 1G
		mv "$keep.256" "$keep"
	fi
	bench_stats warm "$SCRATCH"
}
