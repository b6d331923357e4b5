#!/usr/bin/env bash
# Warm start (vm/warm.h) in real runs: the first run of a guest boots it
# and saves it at its init's HELLO, later runs restore it and behave as
# cold runs do (output, exit status, stdin end of file, --timeout,
# SIGTERM), with their own randomness and the host's time, and with the
# host's current files on --share and --disk; a saved guest whose disk
# size no longer fits, a corrupted state file or a cut memory file means a
# cold boot and a line saying why, never a broken run; nor is a cache that
# cannot be written.
#
# --verbose makes ember say which way it started ("saved", "restored");
# it is part of the guest's shape (the kernel's command line), so every run
# here uses it.  The cache is this script's own (XDG_CACHE_HOME).
SUITE=warm
. "$(dirname "$0")/lib.sh"
require_guest
export XDG_CACHE_HOME="$out/cache"
WARM="$XDG_CACHE_HOME/ember/warm"

run() { timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --verbose --kernel "$KERNEL" --initrd "$INITRD" "$@"; }
said() { grep -q "ember: warm start: $1" "$2"; }
# The guest's lines only (--verbose adds the kernel's messages on stderr).
ms() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }

# --- first run: a cold boot that saves the booted guest ---------------------
t=$(date +%s%N)
o=$(run -- /bin/sh -c 'echo ok; exit 7' 2>"$out/cold.err"); rc=$?
echo "# first run (cold, saves): exit $rc after $(ms "$t") ms"
check "first run: prints ok, exits 7" $([ "$rc" = 7 ] && [ "$o" = ok ]; echo $?) "rc $rc, out '$o'; $(grep ember: "$out/cold.err" | tail -2)"
check "... and saves the booted guest in the cache" \
	$(said "booted guest saved" "$out/cold.err" && ls "$WARM"/*/state "$WARM"/*/memory >/dev/null 2>&1; echo $?) \
	"$(grep ember: "$out/cold.err" | tail -2); $(ls -R "$XDG_CACHE_HOME" 2>&1 | head -5)"
cold_boots=$(grep -c "Linux version" "$out/cold.err")

# --- warm runs -----------------------------------------------------------------
t=$(date +%s%N)
o=$(run -- /bin/sh -c 'echo ok; exit 7' 2>"$out/w1.err"); rc=$?
echo "# warm run: exit $rc after $(ms "$t") ms"
check "warm run: restored, prints ok, exits 7, no kernel boot" \
	$([ "$rc" = 7 ] && [ "$o" = ok ] && said restored "$out/w1.err" && ! grep -q "Linux version" "$out/w1.err"; echo $?) \
	"rc $rc, out '$o'; $(grep -E 'ember:|Linux version' "$out/w1.err" | tail -3)"

r1=$(run -- sh -c 'head -c 16 /dev/urandom | od -x | head -1' 2>/dev/null)
r2=$(run -- sh -c 'head -c 16 /dev/urandom | od -x | head -1' 2>/dev/null)
echo "# urandom: '$r1' / '$r2'"
check "two warm runs read different random bytes" $([ -n "$r1" ] && [ -n "$r2" ] && [ "$r1" != "$r2" ]; echo $?) "'$r1' vs '$r2'"

before=$(date +%s)
g=$(run -- date +%s 2>/dev/null)
after=$(date +%s)
echo "# host $before..$after, guest $g"
check "a warm guest's clock is the host's (within 2 s)" \
	$([ -n "$g" ] && [ "$g" -ge $((before - 2)) ] && [ "$g" -le $((after + 2)) ]; echo $?) "host $before..$after, guest '$g'"

o=$(printf 'one\ntwo\n' | run -i -- cat 2>"$out/cat.err"); rc=$?
check "warm: stdin reaches the command, then end of file" $([ "$rc" = 0 ] && [ "$o" = "$(printf 'one\ntwo')" ]; echo $?) "rc $rc, out '$o'; $(grep ember: "$out/cat.err" | tail -2)"

run --timeout 3 -- sleep 600 >/dev/null 2>"$out/to.err"; rc=$?
check "warm: --timeout stops the VM with 124" $([ "$rc" = 124 ]; echo $?) "rc $rc; $(grep ember: "$out/to.err" | tail -2)"

# ember itself in the background (not under timeout, which would take the signal).
"$EMBER" run --verbose --kernel "$KERNEL" --initrd "$INITRD" -- \
	sh -c 'trap "echo got-term; exit 42" TERM; echo ready; while :; do sleep 1; done' >"$out/term.out" 2>"$out/term.err" &
pid=$!
for _ in $(seq 1 300); do grep -q ready "$out/term.out" 2>/dev/null && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"; rc=$?
check "warm: SIGTERM reaches the command (its trap exits 42)" $([ "$rc" = 42 ] && grep -q got-term "$out/term.out"; echo $?) "rc $rc; $(cat "$out/term.out"); $(grep ember: "$out/term.err" | tail -2)"

# --- --share and --disk: the host's files as they are now ----------------------
mkdir -p "$out/share"
echo before >"$out/share/file"
printf 'AAAAAAAA' >"$out/disk.img"
truncate -s 1M "$out/disk.img"
dev() { run --share "$out/share:/mnt/s" --disk "$out/disk.img" "$@"; }
o=$(dev -- sh -c 'cat /mnt/s/file; head -c 8 /dev/vda; echo' 2>"$out/dev1.err"); rc=$?
check "first run with --share and --disk: cold, saved" $([ "$rc" = 0 ] && [ "$o" = "$(printf 'before\nAAAAAAAA')" ] && said "booted guest saved" "$out/dev1.err"; echo $?) "rc $rc, out '$o'; $(grep ember: "$out/dev1.err" | tail -2)"
echo after >"$out/share/file"
printf 'BBBBBBBB' | dd of="$out/disk.img" conv=notrunc status=none
o=$(dev -- sh -c 'cat /mnt/s/file; head -c 8 /dev/vda; echo; echo written-by-guest >/mnt/s/new; printf CCCCCCCC | dd of=/dev/vda conv=fsync status=none' 2>"$out/dev2.err"); rc=$?
check "warm run reads the share's and the disk's current contents" \
	$([ "$rc" = 0 ] && [ "$o" = "$(printf 'after\nBBBBBBBB')" ] && said restored "$out/dev2.err"; echo $?) "rc $rc, out '$o'; $(grep ember: "$out/dev2.err" | tail -2)"
check "... and its writes reach the host's files" \
	$([ "$(cat "$out/share/new" 2>/dev/null)" = written-by-guest ] && [ "$(head -c 8 "$out/disk.img")" = CCCCCCCC ]; echo $?) \
	"share/new '$(cat "$out/share/new" 2>&1)', disk '$(head -c 8 "$out/disk.img")'"

# --- what no longer fits, or is damaged: a cold boot and one line why ----------
truncate -s 2M "$out/disk.img"
o=$(dev -- sh -c 'echo fine' 2>"$out/size.err"); rc=$?
check "a disk of another size: boots cold and says why" \
	$([ "$rc" = 0 ] && [ "$o" = fine ] && grep -q "warm start: not using .*size 1048576.*size 2097152.*booting cold" "$out/size.err"; echo $?) \
	"rc $rc, out '$o'; $(grep ember: "$out/size.err" | tail -2)"
o=$(dev -- sh -c 'echo fine' 2>"$out/size2.err"); rc=$?
check "... and the run after it is warm again (that boot was saved)" \
	$([ "$rc" = 0 ] && [ "$o" = fine ] && said restored "$out/size2.err" && ! grep -q "not using" "$out/size2.err"; echo $?) \
	"rc $rc, out '$o'; $(grep ember: "$out/size2.err" | tail -2)"

state_entry() { ls -d "$WARM"/*/ | while read -r d; do [ -e "$d/state" ] && echo "${d%/}"; done; }
# Damage every saved state file (damage_state: lib.sh).
for s in $(state_entry); do damage_state "$s/state"; done
o=$(run -- sh -c 'echo fine' 2>"$out/flip.err"); rc=$?
check "a state file with a flipped byte: boots cold and says why" \
	$([ "$rc" = 0 ] && [ "$o" = fine ] && grep -q "warm start: not using .*booting cold" "$out/flip.err"; echo $?) \
	"rc $rc, out '$o'; $(grep ember: "$out/flip.err" | tail -2)"
for s in $(state_entry); do truncate -s 4096 "$s/memory"; done
o=$(run -- sh -c 'echo fine' 2>"$out/cut.err"); rc=$?
check "a memory file cut short: boots cold and says why" \
	$([ "$rc" = 0 ] && [ "$o" = fine ] && grep -q "warm start: not using .*booting cold" "$out/cut.err"; echo $?) \
	"rc $rc, out '$o'; $(grep ember: "$out/cut.err" | tail -2)"

o=$(run --cold -- sh -c 'echo fine' 2>"$out/coldflag.err"); rc=$?
check "--cold boots the kernel though a warm guest exists" \
	$([ "$rc" = 0 ] && [ "$o" = fine ] && grep -q "Linux version" "$out/coldflag.err" && ! grep -q "warm start" "$out/coldflag.err"; echo $?) \
	"rc $rc, out '$o'; $(grep ember: "$out/coldflag.err" | tail -2)"

touch "$out/not-a-dir"
o=$(XDG_CACHE_HOME="$out/not-a-dir" run -- echo fine 2>"$out/nocache.err"); rc=$?
check "a cache that cannot be written: the run works, one line says so" \
	$([ "$rc" = 0 ] && [ "$o" = fine ] && [ "$(grep -c 'ember: warm start' "$out/nocache.err")" = 1 ] && grep -q "cannot save the booted guest" "$out/nocache.err"; echo $?) \
	"rc $rc, out '$o'; $(grep ember: "$out/nocache.err" | tail -3)"

o=$("$EMBER" cache prune); rc=$?
check "ember cache prune removes the warm guests" $([ "$rc" = 0 ] && [ -z "$(ls -A "$WARM")" ]; echo $?) "rc $rc, out '$o'; left: $(ls -A "$WARM")"
echo "# cold boots seen in the first run's log: $cold_boots"
finish
