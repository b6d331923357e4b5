#!/usr/bin/env bash
# Networking (issue 9) through a real guest kernel: every back end of --net
# carries real packets, in a network namespace this script makes (it re-runs
# itself under `unshare -n`), talking only to addresses inside it.
#   auto      ember makes tap emberN, addresses it and the guest (ip=); the guest
#             fetches a file from the host, the host reaches a guest listener,
#             and the tap is gone after ember exits, also when ember is SIGKILLed
#   tap=NAME  a tap made beforehand (as root would for a user)
#   bridge=BR a tap ember enslaves to an existing bridge
#   user      passt: the guest reaches the host's loopback through 10.0.2.2, its
#             DNS is 10.0.2.3 in /etc/resolv.conf, and a warm restore still works
# and bad --net values fail in one line.
SUITE=net
if [ "${EMBER_NET_NS:-}" != 1 ]; then
	if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; then
		echo "# net.sh needs root for its network namespace: skipped"
		echo "$SUITE: 0 passed, 0 failed"
		exit 0
	fi
	EMBER_NET_NS=1 exec unshare -n -- "$0" "$@"
fi
. "$(dirname "$0")/lib.sh"
require_guest
run() { timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" "$@"; }

ip link set lo up
mkdir -p "$out/www"
echo "served by the host $$" >"$out/www/f"
head -c $((64 << 20)) /dev/urandom >"$out/www/big"
big_sum=$(sha256sum <"$out/www/big" | cut -d' ' -f1)
busybox httpd -f -p 8080 -h "$out/www" &
httpd=$!
trap 'kill $httpd ${httpd2:-} 2>/dev/null; rm -rf "$out"' EXIT

# --- bad input: one line, exit 125, nothing left behind
for spec in bogus "tap=" "auto,mac=01:00:5e:00:00:01" "auto,host=10.0.0.1/24,guest=10.1.0.2" "user,host=1.2.3.4/8"; do
	"$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" --net "$spec" -- true >/dev/null 2>"$out/bad.err"
	rc=$?
	check "--net $spec is refused in one line (exit 125)" \
		$([ "$rc" = 125 ] && [ "$(wc -l <"$out/bad.err")" = 1 ] && grep -q -- "--net" "$out/bad.err"; echo $?) \
		"rc $rc: $(cat "$out/bad.err")"
done
"$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" --net tap=nosuch0 -- true >/dev/null 2>"$out/bad.err"
rc=$?
check "--net tap=missing: one line naming the tap, exit 125" \
	$([ "$rc" = 125 ] && [ "$(wc -l <"$out/bad.err")" = 1 ] && grep -q nosuch0 "$out/bad.err"; echo $?) "rc $rc: $(cat "$out/bad.err")"
ip link add notabridge type veth peer name notabridge1
"$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" --net bridge=notabridge -- true >/dev/null 2>"$out/bad.err"
rc=$?
check "--net bridge=<not a bridge>: one line, exit 125, no tap left" \
	$([ "$rc" = 125 ] && [ "$(wc -l <"$out/bad.err")" = 1 ] && ! ip -o link show | grep -q ' ember'; echo $?) \
	"rc $rc: $(cat "$out/bad.err"); $(ip -o link show | grep ember)"

# --- auto: both directions, and the tap goes away.  The 64 MiB download is bound by the
# guest kernel's own speed: about 250 KB/s on a kvm_pvm host (ring 0 interpreted), so
# this run gets 10 minutes more than a boot.
timeout -k 5 $((BOOT_TIMEOUT + 600)) "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" --net auto -- sh -c '
	ip -4 -o addr show dev eth0 | sed "s/^/addr /"
	wget -q -O - http://172.30.0.1:8080/f | sed "s/^/got /"
	ping -c 1 -W 5 172.30.0.1 >/dev/null && echo ping ok
	s=$(date +%s); wget -q -O - http://172.30.0.1:8080/big | sha256sum | sed "s/ .*//;s/^/big /"; echo "big took $(($(date +%s) - s)) s"
	echo "from the guest" | nc -l -p 9000
	echo served' >"$out/auto.out" 2>"$out/auto.err" &
guest=$!
got=""
for _ in $(seq 1 900); do
	got=$(busybox nc -w 2 172.30.0.2 9000 2>/dev/null) && [ -n "$got" ] && break
	kill -0 $guest 2>/dev/null || break
	sleep 1
done
taps_during=$(ip -o link show | grep -c ': ember')
wait $guest
rc=$?
o=$(cat "$out/auto.out")
echo "$o" | sed 's/^/# /'
check "auto: the guest has 172.30.0.2/24 on eth0 (ip= from ember)" $(echo "$o" | grep -q 'addr .*eth0 .*inet 172.30.0.2/24'; echo $?) "rc $rc: $o; $(tail -3 "$out/auto.err")"
check "auto: the guest fetches a file from the host over HTTP" $(echo "$o" | grep -qx "got served by the host $$"; echo $?) "$o"
check "auto: the guest pings the host" $(echo "$o" | grep -qx 'ping ok'; echo $?) "$o"
check "auto: a 64 MiB file fetched by the guest has the host's SHA-256" $(echo "$o" | grep -qx "big $big_sum"; echo $?) "$o"
check "auto: the host reaches a listener in the guest (172.30.0.2:9000)" $([ "$got" = "from the guest" ] && [ $rc = 0 ]; echo $?) "got '$got', rc $rc"
check "auto: the tap existed while the VM ran and is gone after" \
	$([ "$taps_during" = 1 ] && ! ip -o link show | grep -q ': ember'; echo $?) "during $taps_during; after: $(ip -o link show | grep ember)"

"$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" --net auto -- sleep 600 >/dev/null 2>&1 &
victim=$!
for _ in $(seq 1 100); do ip -o link show | grep -q ': ember' && break; sleep 0.2; done
seen=$(ip -o link show | grep -c ': ember')
kill -9 $victim
wait $victim 2>/dev/null
sleep 0.5
check "auto: SIGKILL of ember leaves no tap behind" $([ "$seen" = 1 ] && ! ip -o link show | grep -q ': ember'; echo $?) \
	"seen $seen; after: $(ip -o link show | grep ember)"

"$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" --net auto --timeout 2 -- sleep 600 >/dev/null 2>&1
rc=$?
check "auto: after --timeout (exit 124) no tap is left" $([ $rc = 124 ] && ! ip -o link show | grep -q ': ember'; echo $?) \
	"rc $rc; $(ip -o link show | grep ember)"
"$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" --net auto --stop-timeout 1 -- sleep 600 >/dev/null 2>&1 &
victim=$!
for _ in $(seq 1 100); do ip -o link show | grep -q ': ember' && break; sleep 0.2; done
sleep 1
kill -TERM $victim
wait $victim
rc=$?
check "auto: after SIGTERM (ember exits, 143 or 137) no tap is left" $( { [ $rc = 143 ] || [ $rc = 137 ]; } && ! ip -o link show | grep -q ': ember'; echo $?) \
	"rc $rc; $(ip -o link show | grep ember)"

# --- tap=NAME: a tap made beforehand, the guest addressed by the user's own ip=
ip tuntap add mytap0 mode tap
ip addr add 10.9.0.1/24 dev mytap0
ip link set mytap0 up
o=$(run --net tap=mytap0 --cmdline "ip=10.9.0.2::10.9.0.1:255.255.255.0::eth0:off" -- \
	sh -c 'wget -q -O - http://10.9.0.1:8080/f' 2>"$out/tap.err"); rc=$?
check "tap=mytap0: the guest fetches a file from the host" $([ "$o" = "served by the host $$" ]; echo $?) "rc $rc: $o; $(tail -3 "$out/tap.err")"
check "tap=mytap0: the user's tap is still there afterwards" $(ip link show mytap0 >/dev/null 2>&1; echo $?) "gone"
ip link del mytap0

# --- bridge=BR: two VMs on one bridge reach the host and each other
ip link add br9 type bridge
ip addr add 10.8.0.1/24 dev br9
ip link set br9 up
run --net bridge=br9,mac=52:54:00:00:08:0a --cmdline "ip=10.8.0.10::10.8.0.1:255.255.255.0::eth0:off" -- sh -c '
	wget -q -O - http://10.8.0.1:8080/f | sed "s/^/got /"
	echo "from vm a" | nc -l -p 7000 && echo a-served' >"$out/br.a" 2>"$out/br.a.err" &
vm_a=$!
run --net bridge=br9,mac=52:54:00:00:08:0b --cmdline "ip=10.8.0.11::10.8.0.1:255.255.255.0::eth0:off" -- sh -c '
	for i in $(seq 1 120); do r=$(nc 10.8.0.10 7000 2>/dev/null) && [ -n "$r" ] && break; sleep 1; done
	echo "b got $r"' >"$out/br.b" 2>"$out/br.b.err" &
vm_b=$!
taps_during=0
for _ in $(seq 1 60); do taps_during=$(ip -o link show master br9 | grep -c ': ember'); [ "$taps_during" = 2 ] && break; sleep 0.5; done
wait $vm_a; rc_a=$?
wait $vm_b; rc_b=$?
check "bridge=br9: the first VM reaches the bridge's host address" $(grep -qx "got served by the host $$" "$out/br.a"; echo $?) "rc $rc_a: $(cat "$out/br.a"); $(tail -3 "$out/br.a.err")"
check "bridge=br9: two VMs on the bridge reach each other" $(grep -qx "b got from vm a" "$out/br.b" && grep -qx a-served "$out/br.a"; echo $?) \
	"rc $rc_a/$rc_b: $(cat "$out/br.a" "$out/br.b"); $(tail -3 "$out/br.b.err")"
check "bridge=br9: both taps were enslaved to br9, and are gone with the VMs; the bridge stays" \
	$([ "$taps_during" = 2 ] && ip link show br9 >/dev/null 2>&1 && ! ip -o link show | grep -q ': ember'; echo $?) "during $taps_during; $(ip -o link show)"

# --- user: passt in this namespace (it needs an interface with a default route)
if command -v passt >/dev/null; then
	ip link add up0 type veth peer name up1
	ip addr add 10.7.0.2/24 dev up0
	ip link set up0 up
	ip link set up1 up
	ip route add default via 10.7.0.1
	busybox httpd -f -p 127.0.0.1:8081 -h "$out/www" &
	httpd2=$!
	for round in first warm; do
		o=$(run --verbose --net user -- sh -c '
			ip -4 -o addr show dev eth0 | sed "s/^/addr /"
			wget -q -O - http://10.0.2.2:8081/f | sed "s/^/got /"
			sed "s/^/resolv /" /etc/resolv.conf' 2>"$out/user.$round.err"); rc=$?
		echo "$o" | sed "s/^/# $round: /"
		check "user ($round run): the guest is 10.0.2.15/24" $(echo "$o" | grep -q 'addr .*inet 10.0.2.15/24'; echo $?) "rc $rc: $o; $(grep -v '^\[' "$out/user.$round.err" | tail -3)"
		check "user ($round run): the guest reaches the host's loopback through 10.0.2.2" $(echo "$o" | grep -qx "got served by the host $$"; echo $?) "$o"
		check "user ($round run): /etc/resolv.conf names 10.0.2.3" $(echo "$o" | grep -qx 'resolv nameserver 10.0.2.3'; echo $?) "$o"
	done
	check "user: the second run was a warm restore" $(grep -q 'warm start: restored' "$out/user.warm.err"; echo $?) "$(grep 'warm start' "$out/user.warm.err")"
	check "user: passt is gone after the runs" $(! pgrep -x passt >/dev/null; echo $?) "$(pgrep -a passt)"
	kill $httpd2 2>/dev/null
else
	fail "user" "passt is not installed (make deps installs it)"
fi
finish
