#!/usr/bin/env bash
# 9p ownership models (virtio/p9_own.c) through a real guest kernel's 9p
# client: on an own=mapped share, chown, chmod with setuid/setgid/sticky,
# mknod, mkfifo, symlinks and Unix sockets behave as on a local file
# system and are reported back as set, the guest kernel enforces the
# sticky bit against another user, and on the host every file stays an
# ordinary file of the user running ember (no device node, no setuid bit);
# on an own=host share a setuid chmod fails instead of losing the bit.
SUITE=ownership
. "$(dirname "$0")/lib.sh"
require_guest
run() { timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" "$@"; }
m="$out/mapped"
mkdir -p "$m"

o=$(run --share "$m:/m,own=mapped" -- sh -c '
	cd /m || exit 9
	echo data > f; chown 1234:5678 f; chmod 4755 f; stat -c "f %u %g %a" f
	mkdir d; chmod 2775 d; stat -c "d %a" d
	mkdir -m 1777 t; stat -c "t %a" t
	echo mine > t/a; chown 1000:1000 t/a; chmod 644 t/a
	mknod c0 c 1 3; stat -c "c0 %F %t %T" c0
	mknod b0 b 7 0; stat -c "b0 %F %t %T" b0
	mkfifo p; stat -c "p %F" p
	ln -s /nowhere/target l; echo "l $(readlink l)"
	head -c 4 c0 | wc -c | sed "s/^/c0 reads as the guest'"'"'s own 1,3 (null): /"
' 2>"$out/m1.err"); rc=$?
echo "$o" | sed 's/^/# /'
check "own=mapped: chown and chmod 4755 stick (1234 5678 4755)" $(echo "$o" | grep -qx 'f 1234 5678 4755'; echo $?) "rc $rc: $o; $(tail -2 "$out/m1.err")"
check "own=mapped: setgid and sticky directories (2775, 1777)" $(echo "$o" | grep -qx 'd 2775' && echo "$o" | grep -qx 't 1777'; echo $?) "$o"
check "own=mapped: mknod makes character and block devices (1,3 and 7,0)" \
	$(echo "$o" | grep -qx 'c0 character special file 1 3' && echo "$o" | grep -qx 'b0 block special file 7 0'; echo $?) "$o"
check "own=mapped: mkfifo and symlinks" $(echo "$o" | grep -qx 'p fifo' && echo "$o" | grep -qx 'l /nowhere/target'; echo $?) "$o"
check "... on the host all are plain files of ember's user, no setuid bit, no device node" \
	$([ -z "$(find "$m" ! -type f ! -type d)" ] && [ -z "$(find "$m" -perm /7000)" ] && [ -z "$(find "$m" ! -user "$(id -u)")" ]; echo $?) \
	"$(find "$m" ! -type f ! -type d -o -perm /7000 | head -3; ls -lR "$m" | head -12)"

o=$(run --user 2000:2000 --share "$m:/m,own=mapped" -- sh -c 'rm -f /m/t/a && echo removed || echo refused; touch /m/t/own && echo created' 2>"$out/m2.err"); rc=$?
check "own=mapped: the guest enforces the sticky bit (user 2000 cannot remove user 1000's file)" \
	$(echo "$o" | grep -qx refused && echo "$o" | grep -qx created && [ -f "$m/t/a" ]; echo $?) "rc $rc: $o; $(tail -2 "$out/m2.err")"
o=$(run --share "$m:/m,own=mapped" -- stat -c '%u %g %a' /m/t/own 2>"$out/m3.err")
check "... and the file user 2000 created is owned by 2000:2000 as the guest sees it" $([ "$o" = "2000 2000 644" ]; echo $?) "'$o'; $(tail -2 "$out/m3.err")"

h="$out/host"
mkdir -p "$h"
o=$(run --share "$h:/h" -- sh -c 'cd /h; touch f; chmod 4755 f && echo chmod-ok || echo chmod-refused; stat -c %a f' 2>"$out/h.err"); rc=$?
check "own=host: chmod 4755 fails instead of dropping the bit" $(echo "$o" | grep -qx chmod-refused && [ -z "$(find "$h" -perm /7000)" ]; echo $?) "rc $rc: $o; $(tail -2 "$out/h.err")"
finish
