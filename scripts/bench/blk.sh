# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
#
# scripts/bench.sh, section "Block I/O" (bench_blk).
#
# One Linux boot per VMM with a 256 MiB sparse raw image as /dev/vda.  The
# guest script (blk_guest_script) runs four sequential O_DIRECT dd phases:
# write 4 KiB blocks, read them back, then the same with 64 KiB blocks.
# Reported: guest MiB/s and the host CPU time of the VMM's disk thread(s)
# per MiB moved, plus the whole process's CPU split (vCPU threads / disk
# thread / rest).
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
#
# Raw samples, in $SCRATCH/blk.VMM.* (VMM: ember, qemu):
#   .phases  "NAME T0 T1" per phase whose dd succeeded (guest uptime, s)
#   .snap    "NAME start|end TID CLASS ns N" per thread at each marker, or
#            "... ticks UTIME STIME" where schedstat is missing
#   .split   "total UTIME STIME" (/proc/PID/stat), then "CLASS UTIME STIME"
#            per live thread, in clock ticks
#   .why     the first failure;  .out  the guest's output;  .err  stderr
# stats.py blk makes the figures: per-phase deltas, MiB/s, ms per MiB, ms
# and percentages of the split.

CLK_TCK=$(getconf CLK_TCK 2>/dev/null)
case $CLK_TCK in '' | *[!0-9]* | 0) CLK_TCK=100 ;; esac

# thread_times DIR: "UTIME STIME" of /proc/PID or /proc/PID/task/TID in
# clock ticks, into REPLY (for /proc/PID: every thread, exited ones
# included).  Reads /proc without forking: the section samples while the
# guest waits, so sampling must be quick.
thread_times() {
	local line f
	read -r line 2>/dev/null <"$1/stat" || return 1
	# After "pid (comm) ": field 3 (state) onwards; utime and stime are
	# fields 14 and 15.
	read -ra f <<<"${line##*) }"
	[ ${#f[@]} -gt 12 ] || return 1
	REPLY="${f[11]} ${f[12]}"
}

# thread_class VMM PID TID COMM: into REPLY, what the thread is.
#   vcpu  ember's vCPU threads (unnamed: comm "ember", not the main thread;
#         "ember-vcpu*"/"vcpu*" too, should they get names), QEMU's "CPU n/KVM"
#   io    the thread(s) that serve the disk: ember's blk worker "ember-blk";
#         QEMU without an iothread: its main loop (virtqueue processing,
#         the main thread) and the thread pool ("worker") that does the
#         preadv/pwritev for its default aio=threads
#   main  ember's main thread (event loop, consoles)
#   ports ember's virtio-console I/O thread "ember-ports" (the command
#         channel and its stdio streams; stdio.sh reports it, blk counts
#         it in "rest")
#   other everything else (ember-9p, QEMU's call_rcu, ...)
thread_class() {
	case $1:$4 in
	ember:ember-blk) REPLY=io ;;
	ember:ember-ports) REPLY=ports ;;
	ember:ember-vcpu* | ember:vcpu*) REPLY=vcpu ;;
	ember:ember) if [ "$2" = "$3" ]; then REPLY=main; else REPLY=vcpu; fi ;;
	qemu:CPU\ */KVM | qemu:CPU\ */TCG) REPLY=vcpu ;;
	qemu:worker) REPLY=io ;;
	qemu:*) if [ "$2" = "$3" ]; then REPLY=io; else REPLY=other; fi ;;
	*) REPLY=other ;;
	esac
}

# snap_threads VMM PID PHASE MARK FILE: appends to FILE one line per live
# thread: "PHASE MARK TID CLASS ns N", N the scheduler's exact run time
# from schedstat, or without it (no CONFIG_SCHED_INFO) "PHASE MARK TID
# CLASS ticks UTIME STIME" from stat.  One write per snapshot.
snap_threads() {
	local d tid comm cls ns rest buf=""
	for d in /proc/"$2"/task/*; do
		tid=${d##*/}
		read -r comm 2>/dev/null <"$d/comm" || continue
		thread_class "$1" "$2" "$tid" "$comm"
		cls=$REPLY
		if read -r ns rest 2>/dev/null <"$d/schedstat" && [ -n "$ns" ]; then
			buf+="$3 $4 $tid $cls ns $ns"$'\n'
		elif thread_times "$d"; then
			buf+="$3 $4 $tid $cls ticks $REPLY"$'\n'
		fi
	done
	printf '%s' "$buf" >>"$5"
}

# blk_split VMM PID: the CPU time of the process so far, for stats.py:
# "total UTIME STIME" from /proc/PID/stat (every thread, exited ones too),
# then "CLASS UTIME STIME" per live thread; clock ticks throughout, so the
# parts and the total add up.  Nothing if the process is gone.
blk_split() {
	local d tid comm cls
	thread_times "/proc/$2" || return
	echo "total $REPLY"
	for d in /proc/"$2"/task/*; do
		tid=${d##*/}
		read -r comm 2>/dev/null <"$d/comm" || continue
		thread_class "$1" "$2" "$tid" "$comm"
		cls=$REPLY
		thread_times "$d" || continue
		echo "$cls $REPLY"
	done
}

# alive PID: the process exists and has not exited (a zombie has).
alive() {
	local st
	read -r st 2>/dev/null <"/proc/$1/stat" || return 1
	st=${st##*) }
	[ "${st%% *}" != Z ]
}

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

# blk_run VMM: one boot of VMM (ember|qemu) through the phases; the raw
# samples go to $SCRATCH/blk.VMM.* (see the top).  Never fails the script.
blk_run() {
	local vmm=$1 pre=$SCRATCH/blk.$1 img=$BLK_DIR/ember-bench-blk.$$.img fifo=$SCRATCH/blk.fifo
	local pid line deadline want rc name t0 t1
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
			name=${line#phase }
			snap_threads "$vmm" "$pid" "${name% start}" start "$pre.snap"
			;;
		"phase "*" end "*)
			read -r _ name _ t0 t1 _ <<<"$line" # phase NAME end T0 T1
			snap_threads "$vmm" "$pid" "$name" end "$pre.snap"
			echo "$name $t0 $t1" >>"$pre.phases"
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

bench_blk() {
	local qwhy why
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
	# dd's block counts: MiB * 1024 / 4 and MiB * 1024 / 64.
	BLK_COUNT_4K=$((BLK_MIB_4K * 256))
	BLK_COUNT_64K=$((BLK_MIB_64K * 16))
	BLK_TIMEOUT=$(posint "${BENCH_BLK_TIMEOUT:-}" 600)
	BLK_DIR=${BENCH_BLK_DIR:-$SCRATCH}
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
		echo "n/a ($qwhy)" >"$SCRATCH/blk.qemu.why"
	fi
	bench_stats blk "$SCRATCH" --mib-4k "$BLK_MIB_4K" --mib-64k "$BLK_MIB_64K" --clk-tck "$CLK_TCK"
}
