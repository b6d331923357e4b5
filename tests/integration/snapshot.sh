#!/usr/bin/env bash
# Snapshot and restore of a running VM, the serverless way: a guest counts,
# `ember snapshot` saves it while it runs (--snapshot-to), the ember that
# ran it is killed (SIGKILL), and the snapshot is restored twice, each into
# a VM of its own: both must go on counting from the same point, not from
# 0.  Then the compressed form (--compress) restores the same way, and
# damaged snapshots, or no VM to ask, get one line and exit 125.
SUITE=snapshot
. "$(dirname "$0")/lib.sh"
require_guest
d="$out/vm"

"$EMBER" run --cold --kernel "$KERNEL" --initrd "$INITRD" --snapshot-to "$d" -- \
	sh -c 'i=0; while :; do echo $i; i=$((i + 1)); sleep 0.2; done' >"$out/orig.out" 2>"$out/orig.err" &
pid=$!
for _ in $(seq 1 $((BOOT_TIMEOUT * 10))); do
	[ "$(wc -l <"$out/orig.out")" -ge 3 ] && break
	kill -0 "$pid" 2>/dev/null || break
	sleep 0.1
done
o=$("$EMBER" snapshot "$d" 2>&1); rc=$?
echo "# $o"
check "ember snapshot saves the running VM" $([ "$rc" = 0 ] && [ -s "$d/snapshot/state" ] && [ -e "$d/snapshot/memory" ]; echo $?) "rc $rc: $o; $(tail -2 "$out/orig.err")"
# (Each round forks a sleep: most of a second of interpreted guest kernel on kvm_pvm.)
before=$(tail -1 "$out/orig.out")
for _ in $(seq 1 150); do [ "$(tail -1 "$out/orig.out")" != "$before" ] && break; sleep 0.1; done
check "... and the VM goes on counting after it" $([ "$(tail -1 "$out/orig.out")" -gt "${before:-0}" ] 2>/dev/null; echo $?) "last line '$before' then '$(tail -1 "$out/orig.out")'"
kill -KILL "$pid"
wait "$pid" 2>/dev/null

consecutive() { awk 'NR > 1 && $1 != prev + 1 { bad = 1 } { prev = $1 } END { exit bad || NR < 2 }' "$1"; }
for i in 1 2; do
	"$EMBER" restore --timeout 4 "$d" >"$out/r$i.out" 2>"$out/r$i.err"; rc=$?
	echo "# restore $i: exit $rc, $(wc -l <"$out/r$i.out") lines from $(head -1 "$out/r$i.out")"
	check "restore $i (ember killed): the VM counts on (exit 124 at --timeout)" \
		$([ "$rc" = 124 ] && [ "$(head -1 "$out/r$i.out")" -ge 2 ] 2>/dev/null && consecutive "$out/r$i.out"; echo $?) \
		"rc $rc; $(head -3 "$out/r$i.out" | tr '\n' ' '); $(grep ember: "$out/r$i.err" | tail -2)"
done
check "both restores go on from the same point" $([ -n "$(head -1 "$out/r1.out")" ] && [ "$(head -1 "$out/r1.out")" = "$(head -1 "$out/r2.out")" ]; echo $?) \
	"first lines '$(head -1 "$out/r1.out")' and '$(head -1 "$out/r2.out")'"

# --- compressed: restored VM saved again, with --compress, and restored ----------
"$EMBER" restore --snapshot-to "$out/vm2" "$d" >"$out/r3.out" 2>"$out/r3.err" &
pid=$!
for _ in $(seq 1 100); do [ "$(wc -l <"$out/r3.out")" -ge 3 ] && break; sleep 0.1; done
o=$("$EMBER" snapshot --compress "$out/vm2" 2>&1); rc=$?
echo "# $o"
kill -KILL "$pid"
wait "$pid" 2>/dev/null
check "a restored VM snapshots again, compressed" $([ "$rc" = 0 ] && head -c 8 "$out/vm2/snapshot/memory" | grep -q EMBERMLZ; echo $?) "rc $rc: $o"
"$EMBER" restore --timeout 3 "$out/vm2" >"$out/r4.out" 2>"$out/r4.err"; rc=$?
check "the compressed snapshot restores and counts on" \
	$([ "$rc" = 124 ] && [ "$(head -1 "$out/r4.out")" -ge "$(head -1 "$out/r1.out")" ] 2>/dev/null && consecutive "$out/r4.out"; echo $?) \
	"rc $rc; $(head -3 "$out/r4.out" | tr '\n' ' '); $(grep ember: "$out/r4.err" | tail -2)"

# --- what cannot be restored: one line, exit 125, no guest ------------------------
one_line_125() { # NAME RC ERRFILE
	check "$1: exit 125 with one line" $([ "$2" = 125 ] && [ "$(wc -l <"$3")" = 1 ] && grep -q '^ember: ' "$3"; echo $?) "rc $2: $(head -3 "$3")"
}
cp -r "$d" "$out/flip"
damage_state "$out/flip/snapshot/state"
"$EMBER" restore --timeout 3 "$out/flip" >/dev/null 2>"$out/flip.err"; one_line_125 "a state file with a flipped byte" $? "$out/flip.err"
cp -r "$d" "$out/cut"
truncate -s 65536 "$out/cut/snapshot/memory"
"$EMBER" restore --timeout 3 "$out/cut" >/dev/null 2>"$out/cut.err"; one_line_125 "a memory file cut short" $? "$out/cut.err"
cp -r "$out/vm2" "$out/cutz"
truncate -s 4000 "$out/cutz/snapshot/memory"
"$EMBER" restore --timeout 3 "$out/cutz" >/dev/null 2>"$out/cutz.err"; one_line_125 "a compressed memory file cut short" $? "$out/cutz.err"
"$EMBER" restore "$out/nothing-here" >/dev/null 2>"$out/none.err"; one_line_125 "no snapshot there" $? "$out/none.err"
"$EMBER" snapshot "$out/nothing-here" >/dev/null 2>"$out/nosock.err"; one_line_125 "ember snapshot with no VM to ask" $? "$out/nosock.err"
finish
