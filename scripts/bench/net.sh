# shellcheck shell=bash
# SPDX-License-Identifier: GPL-2.0-only
#
# scripts/bench.sh, section "Network" (bench_net).
#
# Guest <-> host TCP throughput through ember's virtio-net, over `--net
# auto` (a tap ember makes) and `--net user` (passt), both directions, and
# the host CPU per MiB moved: ember's, by thread, passt's and the host end's.
# The guest is ember's default initramfs: busybox, whose nc is the tool (no
# iperf3 there).  One Linux boot per kind (a `user` run may be a warm
# restore of a saved guest; `auto` without guest= always boots), both
# phases in it:
#   dl  host -> guest: the guest's `nc HOST PORT >/dev/null` from a host
#       `busybox nc -l -p PORT` reading a sparse file of N MiB;
#   ul  guest -> host: the guest's `dd if=/dev/zero bs=64k | nc HOST PORT`
#       to a host `busybox nc -l -p PORT` whose output wc -c counts; that
#       nc sends the guest a byte every 5 s (net_trickle), see below.
# N = BENCH_NET_MIB.  The guest is the client both ways: passt forwards no
# port inbound as ember sets it up, and the same shape keeps both kinds
# comparable.  dl writes to /dev/null: no pipe and no tmpfs in the guest
# (on a kvm_pvm host receiving into a tmpfs file took 2.6 times as long as
# into /dev/null, through a pipe to dd 1.3 times).  Its check: the host's
# nc exited with 0 (it does once it wrote all N MiB and the guest closed),
# and eth0's rx_bytes in the guest grew by at least N MiB (frames, headers
# included).  ul is counted exactly on the host.  The guest's nc keeps its
# stdin open without data in dl (a FIFO nobody writes), the host's in ul:
# busybox nc shuts its sending half down at stdin's end of file, which
# would end the other side's transfer.  busybox nc copies through a small
# buffer: ul's frames carried 1024 bytes of data each (seen in passt's
# traffic), a write each, which the interpreted guest pays for per call.
#
# Everything runs in a network namespace of the section's own, never on the
# host's network: `unshare -n sleep` holds it (a bounded sleep: were the
# script killed, it would not stay) and nsenter runs ember and the host ncs
# in it (the snapshots read /proc from outside).  In
# it: lo up (passt maps the guest's 10.0.2.2 to the host's loopback); for
# `user`, a veth pair up0/up1 with 10.7.0.2/24 and a default route via
# 10.7.0.1 (passt needs an interface with an IPv4 default route; nothing
# answers there, and nothing needs to).  `auto` needs CAP_NET_ADMIN and
# the namespace needs root: without root, or without unshare or nsenter,
# the section prints n/a.  auto: ember makes tap ember0 with 172.30.0.1/24
# (the first in a fresh namespace), the guest is 172.30.0.2; user: the
# guest is 10.0.2.15 and reaches the host ncs at 10.0.2.2.
#
# The byte every 5 s: Debian 12's passt (0.0~git20230309) resets a
# connection that the guest opened and on which only the guest sends,
# about 24 s after it opened: its timer for an ACK from the guest fires
# (10 s, then 7 times 2 s: "retransmissions count exceeded") although it
# sent the guest no data (seen with strace: passt closes its socket right
# after the 8th expiry; the guest's nc: "write error: Connection reset by
# peer", after 0.8-1.2 MiB).  On a kvm_pvm host ul takes minutes, so it
# would always fail over user.  A byte from the host now and then, which the
# guest ACKs, keeps that timer from running out; against ul's ~40 frames a
# second, one every 5 s is noise.  auto gets the same, so the two compare.
#
# Markers as in stdio.sh, on ember's stdout: "phase NAME start", a 0.2 s
# pause (`read -t` on a FIFO: no fork), nc between two reads of
# /proc/uptime, another 0.2 s pause, "phase NAME end T0 T1" or "phase NAME
# failed: nc exit N: " and nc's first line on stderr, then for dl "phase
# dl bytes N" (eth0's rx_bytes, read with `read` like the clock).  Inside
# the window: the fork and exec of nc (and dd), about a second of an
# interpreted kvm_pvm guest each (/bin/true measured 0.95 s), also in the
# guest's MiB/s; the pauses.  The guest waits 1 s before it exits, so that
# the last snapshot finds ember still running.
#
# At each marker bash snapshots the CPU time of ember's whole process
# (/proc/PID/stat; stdio_total of stdio.sh) and of every thread of ember,
# of passt (ember's child, `user` only) and of the phase's host nc
# (/proc/PID/task/*/schedstat): net ("ember-net", the virtio-net device
# thread that serves both queues and the tap or passt's socket), vcpu,
# main (the event loop), ember's other threads (thread_class of blk.sh;
# net_classes when they have no names), passt, peer.  The host nc is gone
# by its phase's end marker (it exits once the guest closes): its parent
# is a holder that never reaps it (net_peer), so its zombie still shows
# its CPU time and its exit status.  The guest's MiB/s come from its own
# clock.
#
# On a kvm_pvm host (software KVM: guest ring-0 code runs interpreted at
# ~1M instructions/s) the guest kernel's own speed bounds the figures: its
# TCP stack moved ~0.1 MiB/s in and ~0.04 MiB/s out here, with its vCPU
# thread busy throughout, so MiB/s and ms per MiB say how fast that guest
# is; ember's own part is the ember-net, main and rest columns and "own %"
# (the vCPU thread also runs ember's handling of guest exits).  Hence the
# small default size.
#
# Raw samples, in $SCRATCH/net.KIND.* (KIND: auto, user):
#   .phases  "NAME T0 T1" per phase whose nc exited with 0 (guest uptime, s)
#   .bytes   "NAME N": dl the growth of the guest's rx_bytes (only if the
#            host's nc exited with 0), ul the host's count
#   .total   "NAME start|end UTIME STIME": ember's /proc/PID/stat at each marker
#   .snap    "NAME start|end TID CLASS ns N" (or "... ticks U S") per thread
#   .threads "TID COMM CLASS" per ember thread at the first marker, then
#            "inferred" if the classes come from creation order (net_classes)
#   .ready   "START FIRST": $EPOCHREALTIME at ember's start and at the first
#            marker (host clock: boot or warm restore, and the guest's
#            set-up)
#   .why     the first failure;  .out  ember's stdout (each line after the
#            host's $EPOCHREALTIME);  .err  ember's stderr;  .peer.err the
#            host ncs' stderr
# stats.py net makes the tables.

NET_PORT_DL=5301
NET_PORT_UL=5302

# net_ns CMD...: CMD in the section's network namespace.  What runs in the
# background calls nsenter itself, so that $! is the command's PID (nsenter
# execs it: it forks only to enter a PID namespace); a backgrounded function
# would be a subshell's.
net_ns() { nsenter -t "$NET_NS" -n "$@"; }

# net_classes PID FILE: the class of each of ember's threads into NET_CLASS
# (by TID), and "TID COMM CLASS" lines into FILE.  By name: "ember-net"
# (the virtio-net device thread) is net, the rest as thread_class (blk.sh)
# says.  Without names, ember's threads are all "ember" (a sandboxed ember
# whose pthread_setname_np fails: Landlock denies its write to
# /proc/self/task/TID/comm); then by creation order (TIDs rise): ember
# starts its device threads in device order, then its vCPUs
# (vm_start), and for this command line the first device with a thread
# is the network (virtio_devices_create: no disk, no virtio console; the
# command channel's ports come later): the first unnamed thread is net,
# the last one the vCPU (one: --cpus 1), any between them other; FILE then
# says "inferred".  Taken once per boot, at the first marker (every thread
# exists by then).
net_classes() {
	local d tid comm unnamed=() named=0
	NET_CLASS=()
	for d in /proc/"$1"/task/*; do
		tid=${d##*/}
		read -r comm 2>/dev/null <"$d/comm" || continue
		if [ "$comm" = ember ] && [ "$tid" != "$1" ]; then
			unnamed+=("$tid")
			continue
		fi
		case $comm in
		ember-net) NET_CLASS[tid]=net ;;
		*) thread_class ember "$1" "$tid" "$comm"; NET_CLASS[tid]=$REPLY ;;
		esac
		case $comm in ember-*) named=1 ;; esac
		echo "$tid $comm ${NET_CLASS[$tid]}" >>"$2"
	done
	[ ${#unnamed[@]} -gt 0 ] || return 0
	if [ "$named" = 1 ] || [ ${#unnamed[@]} -lt 2 ]; then
		for tid in "${unnamed[@]}"; do NET_CLASS[tid]=vcpu; echo "$tid ember vcpu" >>"$2"; done
		return 0
	fi
	mapfile -t unnamed < <(printf '%s\n' "${unnamed[@]}" | sort -n)
	for tid in "${unnamed[@]}"; do NET_CLASS[tid]=other; done
	NET_CLASS[unnamed[0]]=net
	NET_CLASS[unnamed[-1]]=vcpu
	for tid in "${unnamed[@]}"; do echo "$tid ember ${NET_CLASS[$tid]}" >>"$2"; done
	echo inferred >>"$2"
}

# net_snap_threads PID PHASE MARK FILE [CLASS]: as snap_threads (blk.sh), for
# every thread of process PID: CLASS, or ember's classes (NET_CLASS, and
# thread_class for a thread net_classes did not see).
net_snap_threads() {
	local d tid comm cls ns rest buf=""
	for d in /proc/"$1"/task/*; do
		tid=${d##*/}
		read -r comm 2>/dev/null <"$d/comm" || continue
		if [ -n "${5:-}" ]; then
			cls=$5
		elif [ -n "${NET_CLASS[$tid]:-}" ]; then
			cls=${NET_CLASS[$tid]}
		else
			thread_class ember "$1" "$tid" "$comm"
			cls=$REPLY
		fi
		if read -r ns rest 2>/dev/null <"$d/schedstat" && [ -n "$ns" ]; then
			buf+="$2 $3 $tid $cls ns $ns"$'\n'
		elif thread_times "$d"; then
			buf+="$2 $3 $tid $cls ticks $REPLY"$'\n'
		fi
	done
	printf '%s' "$buf" >>"$4"
}

# net_child PID NAME: the PID of PID's child process whose name matches the
# pattern NAME, into REPLY ("" if none).  Reads /proc without forking.
net_child() {
	local d line comm rest
	REPLY=
	for d in /proc/[0-9]*; do
		read -r line 2>/dev/null <"$d/stat" || continue
		comm=${line#*(}
		comm=${comm%)*}
		rest=${line##*) }
		rest=${rest#* } # the state
		# shellcheck disable=SC2254 # $2 is a pattern
		case $comm in $2) [ "${rest%% *}" != "$1" ] || { REPLY=${d#/proc/}; return; } ;; esac
	done
}

# net_listening PID PORT: process PID's network namespace has a TCP socket
# listening on PORT (/proc/PID/net/tcp or tcp6, where busybox nc's wildcard
# socket is: local address, state 0A).
net_listening() {
	local hex
	printf -v hex ':%04X' "$2"
	cat "/proc/$1/net/tcp" "/proc/$1/net/tcp6" 2>/dev/null | grep -q "^ *[0-9]*: [0-9A-F]*$hex [0-9A-F:]* 0A "
}

# net_peer PORT: a host end, `busybox nc -l -p PORT` in the namespace, its
# stdin from fd 3 (fd 3 is closed for it), stdout and stderr as given.  Its
# parent is a holder (sh that execs sleep) which never reaps it: once nc
# has exited, its zombie keeps its CPU time and exit status in /proc for
# the last snapshot and the check.  Into REPLY: "HOLDER NC", the two PIDs
# (NC empty if it cannot be found).
net_peer() {
	local holder i
	# shellcheck disable=SC2016 # $1 and $2 are that sh's
	nsenter -t "$NET_NS" -n sh -c 'busybox nc -l -p "$1" <&3 3<&- & exec sleep "$2" >/dev/null 2>&1 3<&-' \
		sh "$1" $((NET_TIMEOUT + 60)) &
	holder=$!
	for ((i = 0; i < 50; i++)); do
		net_child "$holder" busybox
		[ -z "$REPLY" ] || break
		sleep 0.1
	done
	REPLY="$holder $REPLY"
}

# net_exit_status PID: the exit status of process PID, a zombie, from its
# /proc/PID/stat (exit_code, field 52: the wait status), into REPLY; fails
# if PID is not a zombie.
net_exit_status() {
	local line f
	read -r line 2>/dev/null <"/proc/$1/stat" || return 1
	read -ra f <<<"${line##*) }"
	[ "${f[0]}" = Z ] && [ ${#f[@]} -gt 49 ] || return 1
	REPLY=$((f[49] >> 8))
	(((f[49] & 127) == 0)) || REPLY=$((128 + (f[49] & 127)))
}

# net_trickle: a byte every 5 s, until killed or its reader is gone: what
# ul's host nc sends back to the guest (see the top).  A subshell (its PID
# is $!); the sleep it may leave behind ends within 5 s.
net_trickle() {
	while sleep 5; do printf x || return; done
}

# The guest's script: sh -c SCRIPT sh HOST PORT_DL PORT_UL MIB.  /tmp/w is
# a FIFO nobody writes: `read -t 0.2 <&3` is a sleep without a fork, and
# <&3 an open stdin without data.
net_guest_script() {
	cat <<'GUEST'
h=$1 pd=$2 pu=$3 n=$4
mkfifo /tmp/w && exec 3<>/tmp/w
rx=/sys/class/net/eth0/statistics/rx_bytes
ph() {
echo "phase $1 start"
read -t 0.2 x <&3
read r0 <$rx
read a x </proc/uptime
$1
r=$?
read b x </proc/uptime
read -t 0.2 x <&3
read r1 <$rx
e=
[ $r = 0 ] || read -r e </tmp/ne
if [ $r = 0 ]; then echo "phase $1 end $a $b"; else echo "phase $1 failed: nc exit $r: $e"; fi
}
dl() { nc $h $pd <&3 >/dev/null 2>/tmp/ne; }
ul() { dd if=/dev/zero bs=64k count=$((n * 16)) 2>/dev/null | nc $h $pu >/dev/null 2>/tmp/ne; }
ph dl
echo "phase dl bytes $((r1 - r0))"
ph ul
echo bench-net-done
read -t 1 x <&3
exit 0
GUEST
}

# net_run KIND NETARG HOST: one boot with --net NETARG through both phases,
# the guest reaching the host's ncs at HOST; the raw samples go to
# $SCRATCH/net.KIND.* (see the top).  Never fails the script.
net_run() {
	local kind=$1 pre=$SCRATCH/net.$1 fifo=$SCRATCH/net.fifo hold=$SCRATCH/net.hold ulfifo=$SCRATCH/net.ul.fifo
	local src=$SCRATCH/net.src pid dlpid ulpid dlhold ulhold wcpid passt="" rx="" line deadline rc name mark t0 t1 t_start peer i
	local finished=0 trickle
	rm -f "$pre".* "$fifo" "$hold" "$ulfifo"
	if ! mkfifo "$fifo" "$hold" "$ulfifo" || ! truncate -s "${NET_MIB}M" "$src"; then
		echo "mkfifo or truncate in $SCRATCH failed" >"$pre.why"
		rm -f "$fifo" "$hold" "$ulfifo" "$src"
		return
	fi
	# The host's ends, listening before the guest boots.  dl's nc sends the
	# file; ul's keeps its stdin open (the FIFO, read-write) and writes what
	# arrives to wc -c.
	net_peer "$NET_PORT_DL" 3<"$src" >/dev/null 2>>"$pre.peer.err"
	read -r dlhold dlpid <<<"$REPLY"
	wc -c <"$ulfifo" >"$pre.ulcount" &
	wcpid=$!
	net_peer "$NET_PORT_UL" 3<>"$hold" >"$ulfifo" 2>>"$pre.peer.err"
	read -r ulhold ulpid <<<"$REPLY"
	net_trickle >"$hold" &
	trickle=$!
	for ((i = 0; i < 50; i++)); do
		if [ -z "$dlpid" ] || [ -z "$ulpid" ]; then break; fi
		net_listening "$dlpid" "$NET_PORT_DL" && net_listening "$ulpid" "$NET_PORT_UL" && break
		sleep 0.1
	done
	if [ -z "$dlpid" ] || [ -z "$ulpid" ] || ((i == 50)); then
		echo "the host's busybox nc did not listen: $(head -n 1 "$pre.peer.err" 2>/dev/null)" >"$pre.why"
	else
		t_start=$EPOCHREALTIME
		nsenter -t "$NET_NS" -n "$EMBER" run --mem "$NET_MEM" --net "$2" -- \
			/bin/sh -c "$(net_guest_script)" sh "$3" "$NET_PORT_DL" "$NET_PORT_UL" "$NET_MIB" \
			>"$fifo" 2>"$pre.err" </dev/null &
		pid=$! # nsenter execs ember: ember's PID
		deadline=$((SECONDS + NET_TIMEOUT))
		while [ $SECONDS -lt $deadline ] &&
			{ IFS= read -r -t $((deadline - SECONDS)) line || [ -n "$line" ]; }; do
			line=${line%$'\r'}
			case $line in
			"phase "*" start" | "phase "*" end "*)
				read -r _ name mark t0 t1 _ <<<"$line" # phase NAME start | end T0 T1
				if [ ! -s "$pre.ready" ]; then
					echo "$t_start $EPOCHREALTIME" >"$pre.ready"
					net_classes "$pid" "$pre.threads"
				fi
				if [ "$kind" = user ] && [ -z "$passt" ]; then
					net_child "$pid" 'passt*' # Debian's passt execs passt.avx2 where it can
					passt=$REPLY
				fi
				peer=$dlpid
				[ "$name" = dl ] || peer=$ulpid
				stdio_total "$name" "$mark" "$pid" "$pre.total"
				net_snap_threads "$pid" "$name" "$mark" "$pre.snap"
				[ -z "$passt" ] || net_snap_threads "$passt" "$name" "$mark" "$pre.snap" passt
				net_snap_threads "$peer" "$name" "$mark" "$pre.snap" peer
				[ "$mark" = start ] || echo "$name $t0 $t1" >>"$pre.phases"
				;;
			"phase dl bytes "*)
				rx=${line#phase dl bytes }
				;;
			"phase "*" failed"*)
				[ -s "$pre.why" ] || echo "${line#phase }" >"$pre.why"
				;;
			bench-net-done)
				finished=1
				;;
			esac
			printf '%s %s\n' "$EPOCHREALTIME" "$line" >>"$pre.out"
			line=
		done <"$fifo"
		# EOF: ember closed its stdout, normally by exiting; give it until
		# the deadline to do so.
		while [ $SECONDS -lt $deadline ] && alive "$pid"; do sleep 0.2; done
		if alive "$pid"; then
			kill -KILL "$pid" 2>/dev/null
			[ -s "$pre.why" ] || echo "killed after ${NET_TIMEOUT}s (BENCH_NET_TIMEOUT)" >"$pre.why"
		fi
		wait "$pid"
		rc=$?
		if [ "$rc" != 0 ] && [ ! -s "$pre.why" ]; then
			echo "exit status $rc$([ -s "$pre.err" ] && echo ": $(grep -v '^\[' "$pre.err" | tail -n 2 | tr '\r\n' '  ' | cut -c 1-200 | sed 's/ *$//')")" >"$pre.why"
		elif [ "$finished" = 0 ] && [ ! -s "$pre.why" ]; then
			echo "the guest script did not finish (exit status $rc)" >"$pre.why"
		fi
	fi
	# dl counts only if the host's nc sent all and exited with 0.
	rc=running
	[ -z "$dlpid" ] || ! net_exit_status "$dlpid" || rc=$REPLY
	if [ -n "$rx" ] && [ "$rc" = 0 ]; then
		echo "dl $rx" >>"$pre.bytes"
	elif [ -n "$rx" ] && [ ! -s "$pre.why" ]; then
		echo "host -> guest: the host's nc: exit status $rc $(head -n 1 "$pre.peer.err" 2>/dev/null)" >"$pre.why"
	fi
	# A listener the guest never reached is still waiting: ours, by PID
	# (a zombie ignores the signal); then the holders, whose end lets init
	# reap the zombies.
	for i in $dlpid $ulpid; do kill "$i" 2>/dev/null; done
	kill "$dlhold" "$ulhold" "$trickle" 2>/dev/null
	wait "$dlhold" "$ulhold" "$trickle" 2>/dev/null
	# wc -c ends at the FIFO's end of file, once nc is gone; it would wait
	# forever if nc never opened it.
	for ((i = 0; i < 20; i++)); do alive "$wcpid" || break; sleep 0.1; done
	kill "$wcpid" 2>/dev/null
	wait "$wcpid" 2>/dev/null
	read -r i 2>/dev/null <"$pre.ulcount" && echo "ul $i" >>"$pre.bytes"
	rm -f "$fifo" "$hold" "$ulfifo" "$src"
}

# net_ns_start: starts the namespace's holder, its PID into NET_NS; fails if
# the namespace did not come.  The holder sleeps a bounded time: were the
# script killed, it would not stay forever.
net_ns_start() {
	local i self ns
	unshare -n sleep $((2 * NET_TIMEOUT + 600)) 2>/dev/null &
	NET_NS=$!
	self=$(readlink /proc/self/ns/net)
	for ((i = 0; i < 50; i++)); do
		ns=$(readlink "/proc/$NET_NS/ns/net" 2>/dev/null) || break
		[ "$ns" = "$self" ] || return 0
		sleep 0.1
	done
	kill "$NET_NS" 2>/dev/null
	wait "$NET_NS" 2>/dev/null
	return 1
}

bench_net() {
	local why mode
	echo "Network: guest <-> host TCP through virtio-net, --net auto (tap) and --net user (passt), busybox nc"
	if [ "${BENCH_NET:-1}" = 0 ]; then
		echo "  skipped (BENCH_NET=0)"
		echo
		return
	fi
	# On a kvm_pvm host ~0.1 MiB/s host -> guest, ~0.04 guest -> host:
	# 4 MiB take ~40 s and ~110 s.
	NET_MIB=$(posint "${BENCH_NET_MIB:-}" 4)
	[ "$NET_MIB" -le 65536 ] || NET_MIB=65536
	NET_TIMEOUT=$(posint "${BENCH_NET_TIMEOUT:-}" 900)
	NET_MEM=256M
	echo "  host:   busybox nc -l -p PORT in a network namespace of its own: sends $NET_MIB MiB (a sparse file),"
	echo "          or counts what arrives (wc -c); ember and passt run in that namespace too"
	echo "  guest:  host -> guest: nc HOST PORT >/dev/null; guest -> host: dd if=/dev/zero bs=64k | nc HOST PORT;"
	echo "          $NET_MIB MiB each way (BENCH_NET_MIB); MiB/s from the guest's clock around nc (and its fork);"
	echo "          one boot per kind (user: a warm restore if the guest was saved before), $NET_MEM guest RAM;"
	echo "          HOST: auto 172.30.0.1 (tap ember0; guest .2), user 10.0.2.2 (passt: the host's loopback)"
	echo "  CPU:    host CPU per MiB moved: ember's whole process and by thread (\"ember-net\" = the virtio-net"
	echo "          device thread, vCPU, main = event loop, rest), passt's and the host nc's; ember's share of them"
	[ ! -d /sys/module/kvm_pvm ] ||
		echo "  note:   kvm_pvm host: the guest kernel, interpreted, bounds the MiB/s (its vCPU thread is busy throughout)"
	why=$(linux_ready)
	if [ -z "$why" ] && [ "$(id -u)" != 0 ]; then
		why="needs root (--net auto needs CAP_NET_ADMIN; the section makes a network namespace)"
	fi
	if [ -z "$why" ]; then
		for mode in unshare nsenter ip busybox; do
			command -v "$mode" >/dev/null 2>&1 || { why="$mode not found"; break; }
		done
	fi
	if [ -z "$why" ] && ! net_ns_start; then
		why="unshare -n failed: no network namespace"
	fi
	if [ -n "$why" ]; then
		echo "  n/a: $why"
		echo
		return
	fi
	net_ns ip link set lo up
	net_run auto auto 172.30.0.1
	if ! command -v passt >/dev/null 2>&1; then
		echo "passt not found (make deps installs it)" >"$SCRATCH/net.user.why"
	elif ! why=$(net_ns sh -c 'ip link add up0 type veth peer name up1 && ip addr add 10.7.0.2/24 dev up0 &&
		ip link set up0 up && ip link set up1 up && ip route add default via 10.7.0.1' 2>&1); then
		echo "cannot give the namespace a default route for passt: $why" >"$SCRATCH/net.user.why"
	else
		net_run user user 10.0.2.2
	fi
	kill "$NET_NS" 2>/dev/null
	wait "$NET_NS" 2>/dev/null
	bench_stats net "$SCRATCH" --mib "$NET_MIB" --clk-tck "$CLK_TCK"
}
