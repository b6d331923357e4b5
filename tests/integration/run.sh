#!/usr/bin/env bash
# Runs every integration script (real Linux boots, one at a time: two guests
# side by side run > 2.5x slower on a software-KVM host) and adds up their
# "NAME: N passed, M failed" lines into one closing line.
set -u
cd "$(dirname "$0")/../.."
# Warm start (vm/warm.h) is on, as for users: the first run of each guest shape boots
# and saves it, the runs after restore it.  The suite has a warm cache of its own,
# so it starts from nothing and leaves nothing; the other caches (debootstrap tree,
# stock kernel) stay where they were.
export EMBER_CACHE=${EMBER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}
XDG_CACHE_HOME=$(mktemp -d)
export XDG_CACHE_HOME
trap 'rm -rf "$XDG_CACHE_HOME"' EXIT
total_pass=0 total_fail=0
for t in tests/integration/core.sh tests/integration/stdio.sh tests/integration/blk.sh tests/integration/console.sh \
	tests/integration/oneshot.sh tests/integration/stock-kernel.sh tests/integration/warm.sh \
	tests/integration/snapshot.sh tests/integration/ownership.sh tests/integration/kernel.sh tests/integration/net.sh \
	tests/integration/vsock.sh tests/integration/pjdfstest.sh; do
	[ -x "$t" ] || continue
	echo "# --- $t"
	out=$("$t" 2>&1)
	rc=$?
	printf '%s\n' "$out"
	line=$(printf '%s\n' "$out" | grep -E '^[a-z0-9_-]+: [0-9]+ passed, [0-9]+ failed' | tail -1)
	p=$(printf '%s' "$line" | sed -E 's/.*: ([0-9]+) passed.*/\1/')
	f=$(printf '%s' "$line" | sed -E 's/.* ([0-9]+) failed.*/\1/')
	[ -n "$line" ] || { p=0; f=1; echo "not ok - $t printed no summary (exit $rc)"; }
	[ "$rc" -eq 0 ] || [ "$f" -gt 0 ] || { f=1; echo "not ok - $t exited $rc"; }
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
done
echo "integration: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
