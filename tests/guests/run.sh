#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
#
# Boots each tiny test guest (tests/guests/*.c, built by `make guests`) under
# the real ./ember and /dev/kvm, and checks ember's errors for bad input.
# One line per check: `ok - NAME` or `not ok - NAME: details`, then the
# summary `N passed, M failed`.  Exit status 0 only when nothing failed.
#
#   make guests-test                      (builds ember and the guests first)
#   EMBER=/path/to/ember tests/guests/run.sh [NAME-FILTER]
#
# Each run is guarded by `timeout` so that a hung guest is a failure, not a
# stuck CI.  Runs are sequential: on kvm_pvm hosts two guests side by side
# are each much slower.
set -u
cd "$(dirname "$0")/../.."

EMBER=${EMBER:-./ember}
G=${GUEST_BUILD:-build/guests}
TIMEOUT=${GUEST_TIMEOUT:-20}
FILTER=${1:-}

# ember's own exit codes (main.c); everything that depends on them is here.
RC_NO_STATUS=123 # guest stopped without reporting a status (triple fault, reset)
RC_ERROR=125     # ember itself failed: bad flags, bad image, KVM error
RC_TIMEOUT=124   # from timeout(1), not ember

passed=0 failed=0
ok()     { echo "ok - $1"; passed=$((passed + 1)); }
not_ok() { echo "not ok - $1: $2"; failed=$((failed + 1)); }
summary() { echo "$passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ulimit -c 0 # a crash is reported below; no core files in the tree

# Excerpt of a captured file for failure details: quoted, newlines as \n.
show() {
	local s
	s=$(head -c 300 "$1"; echo .)
	s=${s%.}
	printf "'%s'" "${s//$'\n'/\\n}"
}

# run NAME ARGS...: runs ember; sets $rc, $tmp/out, $tmp/err.
# Returns 1 (check skipped) when NAME does not match the filter.
run() {
	local name=$1; shift
	[[ -z $FILTER || $name == *$FILTER* ]] || return 1
	timeout -k 5 "$TIMEOUT" "$EMBER" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
}

# rc_wrong WANT: prints why $rc is not WANT (nothing when it is).
rc_wrong() {
	local why
	if [ "$rc" -eq "$1" ]; then return 1; fi
	if [ "$rc" -eq "$RC_TIMEOUT" ]; then why="timed out after ${TIMEOUT}s"
	elif [ "$rc" -ge 128 ]; then why="killed by signal $((rc - 128))"
	else why="exit code $rc, want $1"
	fi
	[ -s "$tmp/out" ] && why="$why; stdout: $(show "$tmp/out")"
	[ -s "$tmp/err" ] && why="$why; stderr: $(show "$tmp/err")"
	echo "$why"
}

# guest NAME RC STDOUT ARGS...: exit code RC, stdout exactly STDOUT (printf %b).
guest() {
	local name=$1 want_rc=$2 want_out=$3 why; shift 3
	run "$name" "$@" || return 0
	printf '%b' "$want_out" >"$tmp/want"
	if why=$(rc_wrong "$want_rc"); then not_ok "$name" "$why"
	elif ! cmp -s "$tmp/out" "$tmp/want"; then
		not_ok "$name" "stdout $(show "$tmp/out"), want $(show "$tmp/want")"
	else ok "$name"
	fi
}

# guest_out_has NAME RC TEXT ARGS...: exit code RC, TEXT somewhere on stdout.
guest_out_has() {
	local name=$1 want_rc=$2 text=$3 why; shift 3
	run "$name" "$@" || return 0
	if why=$(rc_wrong "$want_rc"); then not_ok "$name" "$why"
	elif ! grep -qF -- "$text" "$tmp/out"; then
		not_ok "$name" "stdout $(show "$tmp/out") lacks '$text'"
	else ok "$name"
	fi
}

# guest_err_has NAME RC REGEX ARGS...: exit code RC, stderr matches REGEX (any case).
guest_err_has() {
	local name=$1 want_rc=$2 regex=$3 why; shift 3
	run "$name" "$@" || return 0
	if why=$(rc_wrong "$want_rc"); then not_ok "$name" "$why"
	elif ! grep -qiE -- "$regex" "$tmp/err"; then
		not_ok "$name" "stderr $(show "$tmp/err") does not match /$regex/i"
	else ok "$name"
	fi
}

# bad_input NAME ARGS...: ember refuses with RC_ERROR, one stderr line
# starting "ember: ", nothing on stdout.
bad_input() {
	local name=$1 why; shift
	run "$name" "$@" || return 0
	if why=$(rc_wrong "$RC_ERROR"); then not_ok "$name" "$why"
	elif [ "$(wc -l <"$tmp/err")" -ne 1 ] || [ -n "$(tail -c 1 "$tmp/err")" ]; then
		not_ok "$name" "stderr is not exactly one line: $(show "$tmp/err")"
	elif [ "$(head -c 7 "$tmp/err")" != "ember: " ]; then
		not_ok "$name" "stderr does not start with 'ember: ': $(show "$tmp/err")"
	elif [ -s "$tmp/out" ]; then
		not_ok "$name" "unexpected stdout $(show "$tmp/out")"
	else ok "$name"
	fi
}

# guest_err_lines NAME RC STDOUT PREFIX MAX ARGS...: like `guest`, and stderr
# holds 1..MAX lines, every one starting with PREFIX.
guest_err_lines() {
	local name=$1 want_rc=$2 want_out=$3 prefix=$4 max=$5 why lines; shift 5
	run "$name" "$@" || return 0
	printf '%b' "$want_out" >"$tmp/want"
	lines=$(wc -l <"$tmp/err")
	if why=$(rc_wrong "$want_rc"); then not_ok "$name" "$why"
	elif ! cmp -s "$tmp/out" "$tmp/want"; then
		not_ok "$name" "stdout $(show "$tmp/out"), want $(show "$tmp/want")"
	elif [ "$lines" -lt 1 ] || [ "$lines" -gt "$max" ]; then
		not_ok "$name" "$lines stderr lines, want 1..$max: $(show "$tmp/err")"
	elif awk -v p="$prefix" 'index($0, p) != 1 { bad = 1 } END { exit !bad }' "$tmp/err"; then
		not_ok "$name" "stderr lines not starting with '$prefix': $(show "$tmp/err")"
	else ok "$name"
	fi
}

# guest_netns NAME RC STDOUT REGEX COUNT ARGS...: like `guest`, in a fresh network
# namespace (unshare -n), so that a tap ember makes there (--net auto) touches no
# host network; and exactly COUNT stderr lines match REGEX.  Needs root (for
# CAP_NET_ADMIN in the namespace) and unshare(1): without them a skip line, no count.
guest_netns() {
	local name=$1 want_rc=$2 want_out=$3 regex=$4 count=$5 why n; shift 5
	[[ -z $FILTER || $name == *$FILTER* ]] || return 0
	if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null; then
		echo "# SKIP $name: needs root and unshare(1) for a private network namespace"
		return 0
	fi
	timeout -k 5 "$TIMEOUT" unshare -n "$EMBER" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	printf '%b' "$want_out" >"$tmp/want"
	n=$(grep -cE -- "$regex" "$tmp/err")
	if why=$(rc_wrong "$want_rc"); then not_ok "$name" "$why"
	elif ! cmp -s "$tmp/out" "$tmp/want"; then
		not_ok "$name" "stdout $(show "$tmp/out"), want $(show "$tmp/want")"
	elif [ "$n" -ne "$count" ]; then
		not_ok "$name" "$n stderr lines match /$regex/, want $count: $(show "$tmp/err")"
	else ok "$name"
	fi
}

# stops_within NAME SECS RC ARGS...: ember ends with RC in under SECS seconds.
stops_within() {
	local name=$1 secs=$2 want_rc=$3 why start elapsed; shift 3
	start=$(date +%s%N)
	run "$name" "$@" || return 0
	elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
	if why=$(rc_wrong "$want_rc"); then not_ok "$name" "$why"
	elif [ "$elapsed" -ge $((secs * 1000)) ]; then not_ok "$name" "took ${elapsed} ms, limit ${secs} s"
	else ok "$name"
	fi
}

# signal_stops NAME SIGNAL RC: SIGNAL to a running ember stops the guest, exit RC.
signal_stops() {
	local name=$1 sig=$2 want_rc=$3 pid rc
	"$EMBER" run --kernel "$G/spin.elf" >"$tmp/out" 2>"$tmp/err" </dev/null &
	pid=$!
	sleep 0.3
	kill "-$sig" "$pid"
	wait "$pid"
	rc=$?
	if [ "$rc" -ne "$want_rc" ]; then not_ok "$name" "exit code $rc, want $want_rc"
	else ok "$name"
	fi
}

# sandboxed NAME: while a guest runs, every ember thread is under a seccomp filter and,
# when ember started as root, holds no capability (CapEff and CapBnd empty).
sandboxed() {
	local name=$1 pid why="" t
	"$EMBER" run --kernel "$G/spin.elf" >"$tmp/out" 2>"$tmp/err" </dev/null &
	pid=$!
	sleep 0.5
	for t in /proc/$pid/task/*; do
		grep -q '^Seccomp:[[:space:]]*2' "$t/status" || why="$why; $(basename "$t"): no seccomp filter"
		if [ "$(id -u)" -eq 0 ]; then
			grep -q '^CapEff:[[:space:]]*0*$' "$t/status" || why="$why; $(basename "$t"): $(grep CapEff "$t/status")"
			grep -q '^CapBnd:[[:space:]]*0*$' "$t/status" || why="$why; $(basename "$t"): $(grep CapBnd "$t/status")"
		fi
	done
	kill -TERM "$pid"
	wait "$pid"
	if [ -n "$why" ]; then not_ok "$name" "${why#; }"; else ok "$name"; fi
}

# ---- preflight: without these nothing below means anything ---------------
missing=
[ -x "$EMBER" ] || missing="$missing $EMBER"
for f in hello exit_status triple_fault unknown_port uart_probe boot_timer cpus spin virtio_hostile count; do
	[ -f "$G/$f.elf" ] || missing="$missing $G/$f.elf"
done
if [ -n "$missing" ]; then
	not_ok "setup" "missing:$missing (run: make ember guests)"
	summary
fi

# Bad kernel images, made fresh each run.
: >"$tmp/empty"
head -c 4096 /dev/urandom >"$tmp/random"
head -c 100 "$G/hello.elf" >"$tmp/truncated.elf"
# bzimage FILE VERSION SETUP_SECTS SIZE: a zero-filled image with just a setup header.
bzimage() {
	head -c "$4" /dev/zero >"$1"
	printf '\x55\xaa' | dd of="$1" bs=1 seek=$((0x1fe)) conv=notrunc status=none
	printf 'HdrS' | dd of="$1" bs=1 seek=$((0x202)) conv=notrunc status=none
	printf "\\x$(printf %02x $(($2 & 255)))\\x$(printf %02x $(($2 >> 8)))" |
		dd of="$1" bs=1 seek=$((0x206)) conv=notrunc status=none
	printf "\\x$(printf %02x "$3")" | dd of="$1" bs=1 seek=$((0x1f1)) conv=notrunc status=none
}
bzimage "$tmp/old.bzImage" $((0x0200)) 4 4096           # boot protocol 2.00
bzimage "$tmp/truncated.bzImage" $((0x020f)) 30 4096    # setup code longer than the file
head -c $((20 << 20)) /dev/zero >"$tmp/big.initrd"     # 20 MiB initrd for a 16 MiB guest
long=$(head -c 3000 /dev/zero | tr '\0' x)

# ---- guests ----------------------------------------------------------------
#             name                rc             stdout (exact)           ember arguments
guest         hello               0              'hello from guest\n'     run --kernel "$G/hello.elf"
guest         hello-mem-64M       0              'hello from guest\n'     run --kernel "$G/hello.elf" --mem 64M
guest         exit-default        42             ''                       run --kernel "$G/exit_status.elf"
guest         exit-7              7              ''                       run --kernel "$G/exit_status.elf" --cmdline status=7
guest         exit-0              0              ''                       run --kernel "$G/exit_status.elf" --cmdline status=0
guest         exit-255            255            ''                       run --kernel "$G/exit_status.elf" --cmdline "quiet status=255"
guest         triple-fault        $RC_NO_STATUS  ''                       run --kernel "$G/triple_fault.elf"
guest         unknown-ports       0              'unknown ports ok\n'     run --kernel "$G/unknown_port.elf"
guest         uart-probe          0              'uart ok\n'              run --kernel "$G/uart_probe.elf"
guest         boot-timer          0              'timer written\n'        run --kernel "$G/boot_timer.elf" --boot-timer
#             name                rc             stderr matches (any case)
guest_err_has boot-timer-report   0              'boot'                   run --kernel "$G/boot_timer.elf" --boot-timer
#             name                rc             stdout contains
guest_out_has cmdline             0              'hello-cmdline status=3' run --kernel "$G/cpus.elf" --cmdline "hello-cmdline status=3"
guest_out_has cpus-2              0              'hello-cmdline status=3' run --kernel "$G/cpus.elf" --cmdline "hello-cmdline status=3" --cpus 2
guest_out_has cpus-4              0              'hello-cmdline status=3' run --kernel "$G/cpus.elf" --cmdline "hello-cmdline status=3" --cpus 4

# A hostile driver: six broken rings, each must end in NEEDS_RESET; ember logs
# the driver error (once per device, or at most once per reset cycle).
hostile_rng='good chain ok\ndesc-outside-ram -> needs reset ok\ndesc-loop -> needs reset ok\nnext-out-of-range -> needs reset ok\navail-idx-jump -> needs reset ok\nindirect-outside-ram -> needs reset ok\nrings-outside-ram -> needs reset ok\n'
#             name                rc  stdout (exact)                   stderr: every line starts with, at most N lines
guest_err_lines virtio-hostile    0   "${hostile_rng}hostile ok\n"    'ember: virtio-rng at ' 6 run --kernel "$G/virtio_hostile.elf"
# The same with a virtio-net: its tx queue drops four chains that cannot be a
# frame (device live) and goes to NEEDS_RESET for four broken rings; ember
# logs that once for the device (virtio_set_needs_reset), not once per case.
hostile_net='net good tx ok\nnet zero-length -> dropped ok\nnet over-max-buf -> dropped ok\nnet short-header -> dropped ok\nnet device-writable -> dropped ok\nnet desc-outside-ram -> needs reset ok\nnet desc-loop -> needs reset ok\nnet next-out-of-range -> needs reset ok\nnet avail-idx-jump -> needs reset ok\n'
#             name                  rc  stdout (exact)                           stderr lines matching, how many
guest_netns   virtio-hostile-net    0   "${hostile_rng}${hostile_net}hostile ok\n" \
              '^ember: virtio-net at 0x[0-9a-f]+: guest driver error \(.*\); device needs reset' 1 \
              run --kernel "$G/virtio_hostile.elf" --net auto

#             name                secs  rc    ember arguments
stops_within  timeout-1s          3     124   run --kernel "$G/spin.elf" --timeout 1
#             name                signal  rc (128 + signal)
signal_stops  sigterm-stops       TERM    143
signal_stops  sigint-stops        INT     130
sandboxed     sandbox-active

# The orchestrator's pause/resume seam (what snapshots build on): a host
# program drives vm_create/boot/start/pause/resume/destroy on the count guest.
if [[ -z $FILTER || lifecycle == *$FILTER* ]]; then
	if timeout -k 5 "$TIMEOUT" "$G/lifecycle" "$G/count.elf" </dev/null >"$tmp/out" 2>"$tmp/err"; then
		ok "lifecycle-pause-resume ($(grep -c '^ok' "$tmp/out") steps)"
	else
		not_ok "lifecycle-pause-resume" "exit $?; $(grep -v '^ok' "$tmp/out" | head -3 | tr '\n' ' ')$(show "$tmp/err")"
	fi
fi

# Snapshot/restore's KVM-state half: the count guest saved, then restored
# twice into brand-new VMs, each counting on from the saved value.
if [[ -z $FILTER || restore == *$FILTER* ]]; then
	if timeout -k 5 "$TIMEOUT" "$G/restore" "$G/count.elf" </dev/null >"$tmp/out" 2>"$tmp/err"; then
		ok "restore-kvm-state ($(grep -c '^ok' "$tmp/out") steps)"
	else
		not_ok "restore-kvm-state" "exit $?; $(grep -v '^ok' "$tmp/out" | head -3 | tr '\n' ' ')$(show "$tmp/err")"
	fi
fi

# ---- bad input: exit 125, one line "ember: ..." on stderr -----------------
#             name                ember arguments
bad_input     kernel-missing      run --kernel /nonexistent
bad_input     kernel-empty        run --kernel "$tmp/empty"
bad_input     kernel-random       run --kernel "$tmp/random"
bad_input     kernel-truncated    run --kernel "$tmp/truncated.elf"
bad_input     mem-0               run --kernel "$G/hello.elf" --mem 0
bad_input     mem-3x              run --kernel "$G/hello.elf" --mem 3x
bad_input     cpus-0              run --kernel "$G/hello.elf" --cpus 0
bad_input     cpus-1000           run --kernel "$G/hello.elf" --cpus 1000
bad_input     unknown-flag        run --kernel "$G/hello.elf" --bogus
bad_input     unknown-command     bogus
bad_input     mem-no-value        run --kernel "$G/hello.elf" --mem
bad_input     kernel-directory    run --kernel /tmp
bad_input     bzimage-too-old     run --kernel "$tmp/old.bzImage"
bad_input     bzimage-truncated   run --kernel "$tmp/truncated.bzImage"
bad_input     initrd-missing      run --kernel "$G/hello.elf" --initrd /nonexistent
bad_input     initrd-too-big      run --kernel "$G/hello.elf" --initrd "$tmp/big.initrd" --mem 16M
bad_input     cmdline-too-long    run --kernel "$G/hello.elf" --cmdline "$long"
bad_input     timeout-0           run --kernel "$G/hello.elf" --timeout 0
bad_input     env-no-key          run --kernel "$G/hello.elf" --env =x
bad_input     user-not-numeric    run --kernel "$G/hello.elf" --user root
bad_input     workdir-relative    run --kernel "$G/hello.elf" --workdir tmp
bad_input     share-missing-dir   run --kernel "$G/hello.elf" --share /nonexistent:/mnt
bad_input     share-no-guest-dir  run --kernel "$G/hello.elf" --share /tmp
bad_input     share-not-a-dir     run --kernel "$G/hello.elf" --share "$tmp/empty:/mnt"
bad_input     disk-missing        run --kernel "$G/hello.elf" --disk /nonexistent.img
bad_input     disk-bad-option     run --kernel "$G/hello.elf" --disk "$tmp/random,bogus"
bad_input     disk-twice          run --kernel "$G/hello.elf" --disk "$tmp/random" --disk "$tmp/random"
bad_input     console-bogus       run --kernel "$G/hello.elf" --console bogus

summary
