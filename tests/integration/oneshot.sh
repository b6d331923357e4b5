#!/usr/bin/env bash
# The CI-job use case in one Linux boot: a debootstrap'd Debian tree as the
# root file system (--rootfs, over 9p), the host's source directory shared
# in (--share), the guest compiles it with the tree's gcc and the binary
# lands on the host; a read-only share refuses writes; symlinks planted in a
# share cannot leak a host file from outside it; `dpkg -i` of a package whose
# files belong to man, daemon and root with setuid, setgid and sticky modes
# installs them so (the tree is own=mapped, --rootfs DIR's default), while on
# the host they stay plain files of the user running ember.
SUITE=oneshot
BOOT_TIMEOUT=${BOOT_TIMEOUT:-900}
. "$(dirname "$0")/lib.sh"
CACHE=${EMBER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}
work=$out

# --- the Debian tree, made once per package list (debootstrap needs root) ---
suite=bookworm
include=gcc,libc6-dev
rootfs="$CACHE/rootfs-$suite-minbase-$(echo "$include" | tr ',' '-')"
if [ ! -e "$rootfs/.ember-complete" ]; then
	# The machine's own Debian mirror, as apt is configured here.
	mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null)
	[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)
	rm -rf "$rootfs.tmp"
	start=$(date +%s)
	if [ "$(id -u)" -ne 0 ] || ! command -v debootstrap >/dev/null || [ -z "$mirror" ]; then
		check "debootstrap a Debian tree" 1 "needs root, debootstrap and an apt mirror"
		finish
	fi
	if ! debootstrap --variant=minbase --include="$include" "$suite" "$rootfs.tmp" "$mirror" \
		>"$work/debootstrap.log" 2>&1; then
		check "debootstrap a Debian tree" 1 "$(tail -3 "$work/debootstrap.log")"
		finish
	fi
	# apt builds its binary caches (about 70 MB) on first use: built here on
	# the host, so that the guest's `apt list` does not write them back
	# through 9p one 4 KiB page at a time (12 minutes on a software-KVM host).
	chroot "$rootfs.tmp" apt-cache gencaches >/dev/null 2>&1 || true
	touch "$rootfs.tmp/.ember-complete"
	mv "$rootfs.tmp" "$rootfs"
	echo "# debootstrap: $(( $(date +%s) - start )) s"
fi

# --- what the host offers the guest ----------------------------------------
mkdir -p "$work/src" "$work/ro" "$work/outside"
printf '#include <stdio.h>\nint main(void) { puts("built in ember"); return 0; }\n' >"$work/src/hello.c"
echo "host-secret-$$-$RANDOM" >"$work/outside/secret"
ln -s "$work/outside/secret" "$work/src/leak-abs"   # absolute, outside the share
ln -s ../outside/secret "$work/src/leak-rel"        # relative, climbing out
echo "read-only data" >"$work/ro/data"
# The share's own state: its entries, its directory's mtime, the data (not "..", which
# changes as this script writes its logs next to it).
ro_state() { (cd "$work/ro" && ls -lA --time-style=+%s && stat -c 'dir %Y' . && sha256sum data); }
ro_before=$(ro_state)

# A package declaring owners and modes (dpkg-deb records the build tree's as they
# are: man is 6:12 and daemon 1:1 on Debian, host and guest alike).
pkg="$work/pkg"
mkdir -p "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/usr/share/ember-owners" "$pkg/var/lib/ember-owners" "$pkg/var/ember-drop"
printf 'Package: ember-owners\nVersion: 1.0\nArchitecture: all\nMaintainer: ember tests <tests@ember.invalid>\nDescription: files with declared owners and modes\n' >"$pkg/DEBIAN/control"
printf '#!/bin/sh\necho suid\n' >"$pkg/usr/bin/ember-suid"
echo "manual" >"$pkg/usr/share/ember-owners/man-file"
chmod 4755 "$pkg/usr/bin/ember-suid"
chown 6:12 "$pkg/usr/share/ember-owners/man-file" && chmod 640 "$pkg/usr/share/ember-owners/man-file"
chown 1:1 "$pkg/var/lib/ember-owners" && chmod 2775 "$pkg/var/lib/ember-owners"
chmod 1777 "$pkg/var/ember-drop"
dpkg-deb --build "$pkg" "$work/src/ember-owners.deb" >"$work/dpkg-deb.log" 2>&1 ||
	fail "build the test package" "$(tail -2 "$work/dpkg-deb.log")"

start=$(date +%s)
timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --mem 512M --rootfs "$rootfs" \
	--share "$work/src:/src" --share "$work/ro:/ro:ro" --workdir /src -- /bin/sh -c '
	echo "debian=$(cat /etc/debian_version)"
	gcc -O2 -o hello hello.c && ./hello
	echo "packages=$(apt list --installed 2>/dev/null | grep -c installed)"
	echo x > /ro/new 2>/dev/null && echo "ro-write=allowed" || echo "ro-write=refused"
	rm -f /ro/data 2>/dev/null && echo "ro-rm=allowed" || echo "ro-rm=refused"
	cat /src/leak-abs /src/leak-rel 2>/dev/null; echo "leak-check-done"
	dpkg --purge ember-owners >/dev/null 2>&1
	dpkg -i /src/ember-owners.deb >/src/dpkg.log 2>&1 && echo "dpkg=installed"
	stat -c "owner %U:%G %a %n" /usr/bin/ember-suid /usr/share/ember-owners/man-file \
		/var/lib/ember-owners /var/ember-drop
	exit 0' </dev/null >"$work/out" 2>"$work/err"
rc=$?
echo "# oneshot boot: exit $rc after $(( $(date +%s) - start )) s"
out=$(head -c 600 "$work/out"); err=$(tail -c 400 "$work/err")

check "the command ran in the Debian tree and ember exited 0" $([ "$rc" = 0 ] && grep -q '^debian=12' "$work/out"; echo $?) "rc $rc; $out; $err"
check "gcc in the guest built the shared source, and it ran there" $(grep -qx 'built in ember' "$work/out"; echo $?) "$out; $err"
check "the binary landed in the host directory and runs on the host" $([ -x "$work/src/hello" ] && [ "$("$work/src/hello")" = "built in ember" ]; echo $?) "$(ls -la "$work/src")"
check "files the guest created belong to the user running ember" $([ "$(stat -c %u "$work/src/hello" 2>/dev/null)" = "$(id -u)" ]; echo $?) "$(stat -c '%u:%g' "$work/src/hello" 2>&1)"
check "apt list --installed works in the tree" $([ "$(sed -n 's/^packages=//p' "$work/out")" -gt 50 ] 2>/dev/null; echo $?) "$out"
check ":ro share refuses a new file" $(grep -qx 'ro-write=refused' "$work/out"; echo $?) "$out"
check ":ro share refuses a delete" $(grep -qx 'ro-rm=refused' "$work/out"; echo $?) "$out"
check ":ro share is unchanged on the host" $([ "$(ro_state)" = "$ro_before" ]; echo $?) "before: $ro_before; after: $(ro_state)"
check "dpkg -i in the tree: the files have the owners and modes the package declares" \
	$(grep -qx 'dpkg=installed' "$work/out" &&
		grep -qx 'owner root:root 4755 /usr/bin/ember-suid' "$work/out" &&
		grep -qx 'owner man:man 640 /usr/share/ember-owners/man-file' "$work/out" &&
		grep -qx 'owner daemon:daemon 2775 /var/lib/ember-owners' "$work/out" &&
		grep -qx 'owner root:root 1777 /var/ember-drop' "$work/out"; echo $?) \
	"$(grep '^owner\|^dpkg' "$work/out" | tr '\n' ' '); $(tail -2 "$work/src/dpkg.log" 2>/dev/null)"
installed="$rootfs/usr/bin/ember-suid $rootfs/usr/share/ember-owners/man-file $rootfs/var/lib/ember-owners $rootfs/var/ember-drop"
# shellcheck disable=SC2086 # a list of paths without spaces
check "... and on the host they are the ember user's, without setuid, setgid or sticky bits" \
	$([ -z "$(find $installed -maxdepth 0 \( ! -user "$(id -u)" -o -perm /7000 \) 2>&1)" ] &&
		[ "$(find $installed -maxdepth 0 2>/dev/null | wc -l)" = 4 ]; echo $?) \
	"$(ls -ld $installed 2>&1 | tr '\n' ' ')"
check "symlinks out of a share do not leak host files" $(grep -q 'leak-check-done' "$work/out" && ! grep -qF "$(cat "$work/outside/secret")" "$work/out"; echo $?) "$out"
finish
