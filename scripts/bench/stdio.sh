# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
#
# scripts/bench.sh, section "Stdio streams" (bench_stdio).
#
# Throughput of `ember run -i`'s stdin and stdout, the command channel's
# stdio ports (vm/session.c on the host; rootfs/init_relay.c in the guest,
# which relays between the ports and pipes to the command), and ember's
# host CPU per MiB moved.  One Linux boot of
#   dd if=/dev/zero bs=1M count=N | ember run -i -- /bin/sh -c SCRIPT sh N
# (N = BENCH_STDIO_MIB) with ember's stdout counted by wc -c (nothing
# stored) and its stderr read line by line by bash from a FIFO: the guest
# script (stdio_guest_script) writes its phase markers there.  Phases:
#   h2g  host -> guest: the command reads its stdin to end of file 64 KiB a
#        read, as cat does: dd of=/dev/null bs=64k iflag=fullblock, whose
#        "N*16+0 records in" (full 64 KiB blocks, none partial) shows that
#        exactly N MiB arrived;
#   g2h  guest -> host: dd if=/dev/zero bs=1M count=N | cat to the
#        command's stdout; stats.py checks that wc counted exactly N MiB.
# No QEMU run: QEMU microvm has no command channel and no equivalent
# streams (and cannot boot Linux on a kvm_pvm host): "n/a" with the reason.
#
# Markers, as in blk.sh but on stderr (stdout carries the data): "phase
# NAME start", a 0.2 s pause (bash's snapshot lands before the data moves),
# the phase between two reads of /proc/uptime, another 0.2 s pause, then
# "phase NAME end T0 T1" or "phase NAME failed: WHY" after dd's two lines
# ("records in", "records out") were checked.  The second pause is for g2h:
# when cat exits, the last bytes (the 64 KiB pipe, the relay's 64 KiB
# buffer, the port's transmit ring) may not have reached ember yet, and
# ember's work on them belongs before the "end" snapshot.  T1 is read before
# that pause, so the guest's MiB/s run to cat's exit; the tail still in
# flight then is well under 1% of 64 MiB.  Between the markers the script
# forks nothing but the phase's own dd (and cat): a fork and exec costs the
# interpreted guest kernel of a kvm_pvm host most of a second of vCPU time
# (~0.8 s measured), which would land in the CPU window, so the pauses are
# `read -t` on a FIFO and the checks use `read`, all shell builtins.  The pauses (0.4 s of an idle guest per
# phase: its timer ticks) are in the CPU window; against the phases'
# minutes that is noise.  Guest MiB/s come from the guest's clock
# (/proc/uptime, 10 ms resolution; busybox date has no %N).
#
# Host stdin is pre-buffered: ember moves stdin into the guest as soon as
# the guest's init opens the stdin port, before the command runs, and the
# guest holds it until the command reads: the port's receive buffers (Linux
# queues 128 pages: 512 KiB), the relay's 64 KiB buffer and the 64 KiB pipe
# to the command.  So about 0.6 MiB of h2g is already in the guest at
# "start" (its time and host CPU fall before the window) and h2g's MiB/s and
# ms per MiB flatter ember by that much: under 1% with 64 MiB.
#
# At each marker bash snapshots ember's CPU time: the whole process from
# /proc/PID/stat (utime + stime, every thread, exited ones too; clock
# ticks) and each thread from /proc/PID/task/*/schedstat (snap_threads and
# thread_class of blk.sh, which bench.sh sources first): vcpu (ember-vcpuN),
# ports ("ember-ports": the virtio-console I/O thread, which reads ember's
# stdin and writes its stdout), main, other.
#
# Raw samples, in $SCRATCH/stdio.ember.*:
#   .phases  "NAME T0 T1" per phase whose guest-side check passed (uptime, s)
#   .total   "NAME start|end UTIME STIME": /proc/PID/stat at each marker
#   .snap    "NAME start|end TID CLASS ns N" (or "... ticks U S") per thread
#   .bytes   the byte count of ember's stdout (wc -c)
#   .why     the first failure;  .err  ember's stderr, each line after the
#            host's $EPOCHREALTIME when bash read it
# and $SCRATCH/stdio.qemu.why, why QEMU has no figures.  stats.py stdio
# makes the table: MiB/s, and CPU ms per MiB in total and by thread class.

# stdio_total PHASE MARK PID FILE: appends "PHASE MARK UTIME STIME", the
# CPU time of the whole process so far (clock ticks); nothing if it is gone.
stdio_total() {
	thread_times "/proc/$3" && echo "$1 $2 $REPLY" >>"$4"
}

# The guest's script: sh -c SCRIPT sh MIB.  Markers go to stderr; /tmp/w
# is a FIFO nobody writes, so `read -t 0.2 <&3` is a sleep without a fork;
# dd's "records in/out" lines in /tmp/e are the checks.
stdio_guest_script() {
	cat <<'GUEST'
n=$1
mkfifo /tmp/w && exec 3<>/tmp/w
ph() {
echo "phase $1 start" >&2
read -t 0.2 x <&3
read a x </proc/uptime
$1
r=$?
read b x </proc/uptime
read -t 0.2 x <&3
{ read i; read o; } </tmp/e
if [ $r = 0 ] && [ "$i, $o" = "$2" ]; then echo "phase $1 end $a $b" >&2
else echo "phase $1 failed: exit $r: $i, $o (want $2)" >&2; fi
}
h2g() { dd of=/dev/null bs=64k iflag=fullblock 2>/tmp/e; }
g2h() { dd if=/dev/zero bs=1M count=$n 2>/tmp/e | cat; }
ph h2g "$((n * 16))+0 records in, $((n * 16))+0 records out"
ph g2h "$n+0 records in, $n+0 records out"
echo bench-stdio-done >&2
GUEST
}

# stdio_run: the boot through both phases; the raw samples go to
# $SCRATCH/stdio.ember.* (see the top).  Never fails the script.
stdio_run() {
	local pre=$SCRATCH/stdio.ember efifo=$SCRATCH/stdio.err.fifo ofifo=$SCRATCH/stdio.out.fifo
	local pid wcpid line deadline rc name t0 t1 finished=0
	rm -f "$pre".* "$efifo" "$ofifo"
	if ! mkfifo "$efifo" "$ofifo"; then
		echo "mkfifo failed" >"$pre.why"
		rm -f "$efifo" "$ofifo"
		return
	fi
	# ember's stdout: counted, not kept (the reader ends when the guest's
	# stdout closes, or ember exits).
	wc -c <"$ofifo" >"$pre.bytes" &
	wcpid=$!
	# $! of a pipeline: its last process, ember.
	dd if=/dev/zero bs=1M count="$STDIO_MIB" status=none |
		"$EMBER" run -i --mem "$STDIO_MEM" -- /bin/sh -c "$(stdio_guest_script)" sh "$STDIO_MIB" \
			>"$ofifo" 2>"$efifo" &
	pid=$!
	deadline=$((SECONDS + STDIO_TIMEOUT))
	while [ $SECONDS -lt $deadline ] &&
		{ IFS= read -r -t $((deadline - SECONDS)) line || [ -n "$line" ]; }; do
		line=${line%$'\r'}
		case $line in
		"phase "*" start")
			name=${line#phase }
			name=${name% start}
			stdio_total "$name" start "$pid" "$pre.total"
			snap_threads ember "$pid" "$name" start "$pre.snap"
			;;
		"phase "*" end "*)
			read -r _ name _ t0 t1 _ <<<"$line" # phase NAME end T0 T1
			stdio_total "$name" end "$pid" "$pre.total"
			snap_threads ember "$pid" "$name" end "$pre.snap"
			echo "$name $t0 $t1" >>"$pre.phases"
			;;
		"phase "*" failed"*)
			[ -s "$pre.why" ] || echo "${line#phase }" >"$pre.why"
			;;
		bench-stdio-done)
			finished=1
			;;
		esac
		printf '%s %s\n' "$EPOCHREALTIME" "$line" >>"$pre.err" # after the snapshots
		line=
	done <"$efifo"
	# EOF: ember closed its stderr, normally by exiting; give it until the
	# deadline to do so.
	while [ $SECONDS -lt $deadline ] && alive "$pid"; do sleep 0.2; done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		[ -s "$pre.why" ] || echo "killed after ${STDIO_TIMEOUT}s (BENCH_STDIO_TIMEOUT)" >"$pre.why"
	fi
	wait "$pid"
	rc=$?
	wait "$wcpid"
	if [ "$rc" != 0 ] && [ ! -s "$pre.why" ]; then
		echo "exit status $rc$([ -s "$pre.err" ] && echo ": $(tail -n 2 "$pre.err" | cut -d ' ' -f 2- | tr '\r\n' '  ' | cut -c 1-200 | sed 's/ *$//')")" >"$pre.why"
	elif [ "$finished" = 0 ] && [ ! -s "$pre.why" ]; then
		echo "the guest script did not finish (exit status $rc)" >"$pre.why"
	fi
	rm -f "$efifo" "$ofifo"
}

bench_stdio() {
	local qwhy why
	echo "Stdio streams: \`ember run -i\`'s stdin and stdout through the Linux guest (command-channel ports)"
	if [ "${BENCH_STDIO:-1}" = 0 ]; then
		echo "  skipped (BENCH_STDIO=0)"
		echo
		return
	fi
	STDIO_MIB=$(posint "${BENCH_STDIO_MIB:-}" 64)
	# On a kvm_pvm host 0.3-0.5 MiB/s: 64 MiB each way take ~6 minutes.
	STDIO_TIMEOUT=$(posint "${BENCH_STDIO_TIMEOUT:-}" 1200)
	STDIO_MEM=256M
	echo "  host:   dd if=/dev/zero bs=1M count=$STDIO_MIB | $EMBER run -i -- /bin/sh -c SCRIPT | wc -c"
	echo "  guest:  host -> guest: the command reads stdin to EOF, 64 KiB a read (dd of=/dev/null bs=64k"
	echo "          iflag=fullblock, counting); guest -> host: dd if=/dev/zero bs=1M count=$STDIO_MIB | cat"
	echo "          $STDIO_MIB MiB each way (BENCH_STDIO_MIB); MiB/s from the guest's clock; one boot, $STDIO_MEM guest RAM"
	echo "  CPU:    ember's host CPU time per MiB moved: the whole process, and by thread (vCPU threads,"
	echo "          \"ember-ports\" = the console ports' I/O thread, main thread, other)"
	why=$(linux_ready)
	if [ -n "$why" ]; then
		echo "  n/a: $why"
		echo
		return
	fi
	qwhy=$(qemu_linux_reason)
	# Where QEMU could boot Linux it still has nothing to compare: its
	# guest's stdio is the serial console, not streams with end of file.
	[ -n "$qwhy" ] || qwhy="no equivalent: QEMU microvm has no command channel (stdio is its serial console)"
	echo "n/a ($qwhy)" >"$SCRATCH/stdio.qemu.why"
	stdio_run
	bench_stats stdio "$SCRATCH" --mib "$STDIO_MIB" --clk-tck "$CLK_TCK"
}
