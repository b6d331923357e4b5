#!/usr/bin/env bash
# The command channel (vm/session.h, rootfs/init_relay.c) in real Linux
# boots: stdin with end of file, stdout and stderr as separate byte-exact
# streams, signals forwarded like docker run's sig-proxy, --stop-timeout,
# -t on a real pseudo-terminal with resizes, commands and environments far
# over the kernel command line's 2 KiB, and guests that do not speak the
# protocol (never open the channel, or write garbage on it).
SUITE=stdio
. "$(dirname "$0")/lib.sh"
require_guest
PTY_RUN=tests/integration/pty_run.py

run() { timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" "$@"; }
took() { echo "$(( $(date +%s) - $1 ))"; }

# --- stdin end of file: a pipe, /dev/null, an endless producer cut by head ---
start=$(date +%s)
out1=$(echo hi | run -i -- cat 2>"$out/cat.err"); rc=$?
echo "# echo hi | ember run -i -- cat: exit $rc after $(took "$start") s"
check "echo hi | ember run -i -- cat prints hi and exits 0" $([ "$rc" = 0 ] && [ "$out1" = hi ]; echo $?) "rc $rc, out '$out1'; $(tail -3 "$out/cat.err")"

start=$(date +%s)
out2=$(run -i -- wc -c </dev/null 2>"$out/wc.err"); rc=$?
echo "# ember run -i -- wc -c </dev/null: exit $rc after $(took "$start") s"
check "wc -c of /dev/null reads end of file at once: 0" $([ "$rc" = 0 ] && [ "$(echo $out2)" = 0 ]; echo $?) "rc $rc, out '$out2'; $(tail -3 "$out/wc.err")"

start=$(date +%s)
out3=$(yes | head -c 5000000 | run -i -- wc -c 2>"$out/yes.err"); rc=$?
echo "# yes | head -c 5000000 | ember run -i -- wc -c: exit $rc after $(took "$start") s"
check "5 000 000 bytes of yes arrive, then end of file" $([ "$rc" = 0 ] && [ "$(echo $out3)" = 5000000 ]; echo $?) "rc $rc, out '$out3'; $(tail -3 "$out/yes.err")"

# --- 3 MB of random bytes, both ways, stdout and stderr apart ----------------
# tee /dev/stderr reopens the command's stderr by name: a pipe allows that
# (a virtio port would refuse a second open), so this also checks "pipes".
head -c 3000000 /dev/urandom >"$out/random.in"
start=$(date +%s)
run -i -- tee /dev/stderr <"$out/random.in" >"$out/random.out" 2>"$out/random.err"; rc=$?
echo "# 3 MB through tee: exit $rc after $(took "$start") s"
check "3 MB of random bytes come back on stdout byte for byte" $([ "$rc" = 0 ] && cmp -s "$out/random.in" "$out/random.out"; echo $?) "rc $rc; $(cmp "$out/random.in" "$out/random.out" 2>&1 | head -1); sizes $(stat -c %s "$out/random.out")"
check "... and on stderr, separately, byte for byte" $(cmp -s "$out/random.in" "$out/random.err"; echo $?) "$(cmp "$out/random.in" "$out/random.err" 2>&1 | head -1); size $(stat -c %s "$out/random.err")"

# --- without -i the command's stdin is empty even when ember's is not --------
start=$(date +%s)
out4=$(echo should-not-arrive | run -- sh -c 'wc -c; [ -t 0 ] || echo stdin-not-tty; [ -t 1 ] || echo stdout-not-tty' 2>"$out/noi.err"); rc=$?
echo "# no -i: exit $rc after $(took "$start") s"
check "without -i stdin is empty (wc -c says 0)" $([ "$rc" = 0 ] && [ "$(echo "$out4" | head -1 | tr -d ' ')" = 0 ]; echo $?) "rc $rc, out '$out4'; $(tail -3 "$out/noi.err")"
check "without -t stdin and stdout are not terminals" $(echo "$out4" | grep -qx stdin-not-tty && echo "$out4" | grep -qx stdout-not-tty; echo $?) "out '$out4'"

# --- signals: a trapped SIGTERM, then --stop-timeout on one that ignores it ---
# wait_for FILE TEXT: until TEXT is in FILE (the guest is booted and running).
wait_for() { for _ in $(seq 1 $((BOOT_TIMEOUT * 5))); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.2; done; return 1; }
# ember itself in the background (not through timeout(1), which would take
# the signal), with a watchdog in case the boot never gets there.
bg_run() { "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" "$@" & pid=$!
	( sleep "$BOOT_TIMEOUT"; kill -9 "$pid" 2>/dev/null ) & watchdog=$!; }
bg_run -- sh -c 'trap "echo trapped-term; exit 42" TERM; echo ready; while :; do sleep 1; done' \
	>"$out/term.out" 2>"$out/term.err" </dev/null
wait_for "$out/term.out" ready
kill -TERM "$pid"
wait "$pid"; rc=$?
kill "$watchdog" 2>/dev/null
check "SIGTERM to ember reaches the command's trap" $(grep -qx trapped-term "$out/term.out"; echo $?) "out: $(cat "$out/term.out"); err: $(tail -3 "$out/term.err")"
check "ember exits with the trap's status (42)" $([ "$rc" = 42 ]; echo $?) "got $rc"

bg_run --stop-timeout 2 -- sh -c 'trap "" TERM; echo ready; sleep 600' \
	>"$out/stop.out" 2>"$out/stop.err" </dev/null
wait_for "$out/stop.out" ready
t0=$(date +%s.%N)
kill -TERM "$pid"
wait "$pid"; rc=$?
secs=$(echo "$(date +%s.%N) - $t0" | bc)
kill "$watchdog" 2>/dev/null
echo "# --stop-timeout 2: exit $rc ${secs} s after SIGTERM"
check "--stop-timeout 2: a command that ignores SIGTERM is stopped within 3 s" $(echo "$secs < 3" | bc | grep -qx 1; echo $?) "took $secs s"
check "--stop-timeout: ember exits 137 and says why" $([ "$rc" = 137 ] && grep -q 'stop-timeout 2 s' "$out/stop.err"; echo $?) "rc $rc; $(tail -2 "$out/stop.err")"

bg_run -- sh -c 'trap "" INT; echo ready; sleep 600' >"$out/int.out" 2>"$out/int.err" </dev/null
wait_for "$out/int.out" ready
kill -INT "$pid"; sleep 1; kill -INT "$pid"
wait "$pid"; rc=$?
kill "$watchdog" 2>/dev/null
check "a second SIGINT stops a command that ignores the first: exit 137" $([ "$rc" = 137 ] && grep -q 'second interrupt' "$out/int.err"; echo $?) "rc $rc; $(tail -2 "$out/int.err")"

# --- the command closes its stdout: ember's reader sees EOF before the VM ends --
# ember alone holds the pipe's write end (no timeout(1) or subshell in between).
"$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" -- sh -c 'echo first; exec >&-; sleep 20' \
	2>"$out/close.err" </dev/null | { cat >"$out/close.out"; date +%s.%N >"$out/close.eof"; }
ended=$(date +%s.%N)
early=$(echo "$ended - $(cat "$out/close.eof")" | bc)
echo "# stdout closed: EOF seen ${early} s before ember exited"
check "the command closing its stdout is EOF for ember's reader at once (>15 s before exit)" $([ "$(cat "$out/close.out")" = first ] && echo "$early > 15" | bc | grep -qx 1; echo $?) "out '$(cat "$out/close.out")', EOF $early s before exit; $(tail -2 "$out/close.err")"

# --- ember's reader goes away: the command gets SIGPIPE, as in a shell pipeline --
start=$(date +%s)
timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" -- yes \
	2>"$out/yes.err" </dev/null | head -c 10 >"$out/yes.out"
rc=${PIPESTATUS[0]}
echo "# ember run -- yes | head -c 10: ember exit $rc after $(took "$start") s"
check "ember run -- yes | head -c 10 ends: yes dies of SIGPIPE, ember exits 141" $([ "$rc" = 141 ] && [ "$(tr -d '\n' <"$out/yes.out")" = yyyyy ]; echo $?) "rc $rc; $(tail -2 "$out/yes.err")"

# --- -t on a real pseudo-terminal: a tty in the guest, its size follows ------
start=$(date +%s)
python3 "$PTY_RUN" --out "$out/tty.out" --size 24 80 --when 'size1=' --resize 40 120 \
	--timeout "$BOOT_TIMEOUT" -- "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" -it -- \
	sh -c 'echo "tty=$(tty)"; echo "size1=$(stty size)";
	       i=0; while [ "$(stty size)" = "24 80" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done;
	       echo "size2=$(stty size)"; [ -t 0 ] && [ -t 1 ] && echo both-tty; exit 5'
rc=$?
tr -d '\r' <"$out/tty.out" >"$out/tty.txt"
echo "# -t: exit $rc after $(took "$start") s"
check "-t: the command's terminal is a pseudo-terminal (/dev/pts/N)" $(grep -q '^tty=/dev/pts/[0-9]' "$out/tty.txt"; echo $?) "$(head -c 400 "$out/tty.txt")"
check "-t: it starts with the host terminal's size (24 80)" $(grep -qx 'size1=24 80' "$out/tty.txt"; echo $?) "$(head -c 400 "$out/tty.txt")"
check "-t: a resize of the host terminal reaches it (40 120)" $(grep -qx 'size2=40 120' "$out/tty.txt"; echo $?) "$(head -c 400 "$out/tty.txt")"
check "-t: stdin and stdout are the terminal; exit status 5" $([ "$rc" = 5 ] && grep -qx both-tty "$out/tty.txt"; echo $?) "rc $rc"

# --- 256 KiB of arguments and 1000 --env variables arrive exactly -------------
args=() envs=()
for i in $(seq 1 64); do args+=("arg$i $(head -c 3000 /dev/urandom | base64 -w0 | head -c 4090)"); done
for i in $(seq 1 1000); do envs+=(--env "V$i=value $i with 'quotes' and \"more\""); done
expect_args=$(for a in "${args[@]}"; do printf '%s\n' "$a" | md5sum | cut -d' ' -f1; done)
expect_env=$(for i in $(seq 1 1000); do echo "V$i=value $i with 'quotes' and \"more\""; done | sort | sha256sum)
start=$(date +%s)
# One checksum per argument (a file each), so that a failure says which one differs.
# No pipes between guest programs: on kvm_pvm, before ember kept guest glibc off AVX
# (arch/x86/pvm.c), busybox awk reading 256 KB through a pipe made 120 records of 64
# lines in 3 of 3 runs; files keep this check independent of that workaround.
run "${envs[@]}" -- sh -c 'i=0; for a in "$@"; do i=$((i + 1)); printf "%s\n" "$a" >/tmp/a$(printf %03d $i); done;
	md5sum /tmp/a[0-9]* >/tmp/sums; cut -d" " -f1 /tmp/sums; env >/tmp/env; grep "^V[0-9]*=" /tmp/env >/tmp/v;
	sort /tmp/v >/tmp/vs; sha256sum </tmp/vs; echo "n=$#"' sh "${args[@]}" \
	>"$out/big.out" 2>"$out/big.err" </dev/null
rc=$?
echo "# $(printf '%s' "${args[@]}" | wc -c) bytes of arguments: exit $rc after $(took "$start") s"
got_args=$(head -n 64 "$out/big.out")
first_bad=$(diff <(echo "$expect_args") <(echo "$got_args") | head -3 | tr '\n' ' ')
check "256 KiB of arguments arrive exactly (64 of 4 KiB)" $([ "$rc" = 0 ] && [ "$got_args" = "$expect_args" ] && grep -qx 'n=64' "$out/big.out"; echo $?) "rc $rc; first difference: ${first_bad:-none}; n: $(grep '^n=' "$out/big.out"); $(tail -2 "$out/big.err")"
check "1000 --env variables arrive exactly" $([ "$(sed -n 65p "$out/big.out")" = "$expect_env" ]; echo $?) "$(sed -n 65,66p "$out/big.out")"

# --- guests that do not speak the protocol ------------------------------------
# A foreign init (a shell script in a busybox initramfs) that never opens the
# channel: its console output still shows, ember says once that the channel
# was unused; one that writes garbage on the control port: 125 and one line.
foreign_initrd() { # NAME SCRIPT
	printf '#!/bin/sh\nmount -t devtmpfs dev /dev; mount -t sysfs sysfs /sys; mount -t proc proc /proc\n%s\n' \
		"$2" >"$out/$1-init"
	chmod +x "$out/$1-init"
	rootfs/build-initramfs.sh "$out/$1-init" "$out/$1.cpio" 2>/dev/null
}
foreign_initrd silent 'echo hello-from-foreign-init; reboot -f'
start=$(date +%s)
timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$out/silent.cpio" -- true \
	>"$out/silent.out" 2>"$out/silent.err" </dev/null
rc=$?
echo "# foreign init, channel unused: exit $rc after $(took "$start") s"
check "a foreign init still runs, its console on stderr" $(grep -q hello-from-foreign-init "$out/silent.err"; echo $?) "rc $rc; $(tail -3 "$out/silent.err")"
check "ember says once that the channel was not used" $([ "$(grep -c 'never opened' "$out/silent.err")" = 1 ]; echo $?) "$(tail -3 "$out/silent.err")"

foreign_initrd garbage 'for i in $(seq 1 600); do
	for d in /sys/class/virtio-ports/*; do
		[ "$(cat $d/name 2>/dev/null)" = org.ember.control ] && p=/dev/${d##*/}; done
	[ -n "$p" ] && break; sleep 0.1; done
printf "GARBAGE-ON-THE-CHANNEL" >"$p"; echo garbage-sent; sleep 600'
start=$(date +%s)
timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$out/garbage.cpio" -- true \
	>"$out/garbage.out" 2>"$out/garbage.err" </dev/null
rc=$?
echo "# garbage on the channel: exit $rc after $(took "$start") s"
check "garbage on the control port: ember exits 125 (not a hang)" $([ "$rc" = 125 ]; echo $?) "rc $rc; $(tail -3 "$out/garbage.err")"
check "... with one line naming the protocol error" $([ "$(grep -c 'broke the command channel' "$out/garbage.err")" = 1 ]; echo $?) "$(tail -3 "$out/garbage.err")"

finish
