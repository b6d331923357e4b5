#!/usr/bin/env bash
# POSIX conformance of a --rootfs DIR tree in own=mapped mode (virtio/p9_own.c),
# measured with pjdfstest (tests/third_party/pjdfstest, unmodified upstream
# scripts; its README and COPYING are there): the same scripts run in the
# same guest on the mapped 9p root and on the guest's tmpfs, and every
# assertion that passes on tmpfs must pass on 9p.
#
# Each assertion costs a few fork+execs, about 5 s on a kvm_pvm host, so
# `make test` runs a subset that covers ownership, setuid/setgid, device
# nodes and permission checks (PJDFSTEST_SUBSET overrides it, e.g.
# PJDFSTEST_SUBSET="chmod chown" for whole directories).
SUITE=pjdfstest
BOOT_TIMEOUT=${BOOT_TIMEOUT:-1800}
. "$(dirname "$0")/lib.sh"
require_guest
src=tests/third_party/pjdfstest
subset=${PJDFSTEST_SUBSET:-"chmod/12.t chown/05.t mknod/11.t"}

# --- the tree: the guest's own busybox userland, pjdfstest and its scripts ---
tree="$out/tree"
mkdir -p "$tree/pjd" "$tree/work"
if ! cc -O2 -static -w -I"$src" -o "$tree/pjd/pjdfstest" "$src/pjdfstest.c" 2>"$out/cc.err"; then
	fail "build pjdfstest" "$(tail -3 "$out/cc.err")"
	finish
fi
(cd "$tree" && cpio -id --quiet) <"$INITRD" && rm -f "$tree/init"
cp -r "$src/tests" "$tree/pjd/"
# pjdfstest names its files with `openssl md5`; busybox has md5sum.
printf '#!/bin/sh\nmd5sum | cut -d" " -f1\n' >"$tree/bin/openssl"
chmod 755 "$tree/bin/openssl"
scripts=""
for s in $subset; do
	case $s in
	*.t) scripts="$scripts $s" ;;
	*) scripts="$scripts $(cd "$tree/pjd/tests" && echo "$s"/*.t)" ;;
	esac
done

# --- one guest, two vCPUs: the 9p run and the tmpfs run side by side ---------
start=$(date +%s)
timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --cpus 2 --mem 512M --rootfs "$tree" -- sh -c '
	run() { # FS-LABEL DIR
		mkdir -p "$2" && cd "$2" || exit 1
		for t in '"$scripts"'; do
			sh /pjd/tests/$t 2>&1 | sed -n "s|^\(not ok\|ok\) \([0-9]*\).*|$1 $t \1 \2|p"
		done >/pjd/results.$1
	}
	mkdir -p /dev/shm/pjd
	run 9p /work/pjd & run tmpfs /dev/shm/pjd; wait' </dev/null >"$out/guest.out" 2>"$out/err"
rc=$?
# Written as they come, into the tree: a run cut short by the timeout still counts.
cat "$tree/pjd/results.9p" "$tree/pjd/results.tmpfs" >"$out/results" 2>/dev/null
echo "# pjdfstest ($scripts): exit $rc after $(( $(date +%s) - start )) s"
check "the guest ran the scripts on both file systems" \
	$([ "$rc" = 0 ] && grep -q '^9p ' "$out/results" && grep -q '^tmpfs ' "$out/results"; echo $?) \
	"rc $rc; $(tail -3 "$out/err")"

for t in $scripts; do
	tmpfs_ok=$(awk -v t="$t" '$1 == "tmpfs" && $2 == t && $3 == "ok" { print $4 }' "$out/results" | sort -n)
	p9_ok=$(awk -v t="$t" '$1 == "9p" && $2 == t && $3 == "ok" { print $4 }' "$out/results" | sort -n)
	p9_all=$(awk -v t="$t" '$1 == "9p" && $2 == t' "$out/results" | wc -l)
	missing=$(comm -23 <(echo "$tmpfs_ok") <(echo "$p9_ok") | tr '\n' ' ')
	n_tmpfs=$(echo "$tmpfs_ok" | grep -c .)
	n_p9=$(echo "$p9_ok" | grep -c .)
	echo "# $t: tmpfs $n_tmpfs ok, mapped 9p $n_p9 ok of $p9_all"
	check "pjdfstest $t: mapped 9p passes every assertion tmpfs passes ($n_tmpfs)" \
		$([ "$n_tmpfs" -gt 0 ] && [ -z "$missing" ]; echo $?) \
		"failing on 9p only: $missing; $(grep "^9p $t not ok" "$out/results" | head -3 | tr '\n' ' ')"
done
check "... and on the host the tree holds no device node, no setuid file, nothing not ember's user's" \
	$([ -z "$(find "$tree/work" ! -type f ! -type d)" ] && [ -z "$(find "$tree/work" -perm /6000)" ] &&
		[ -z "$(find "$tree/work" ! -user "$(id -u)")" ]; echo $?) \
	"$(find "$tree/work" \( ! -type f ! -type d \) -o -perm /6000 | head -3)"
finish
