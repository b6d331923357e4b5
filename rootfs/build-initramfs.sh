#!/bin/bash
# Makes the guest initramfs: a newc cpio, gzip-compressed, holding
#   /init                 rootfs/init.c, static (given as $1)
#   /bin/busybox          from Debian's busybox-static, applet symlinks in /bin and /sbin
#   /etc/passwd, /etc/group, the usual empty mount points, /dev/console
#
# Usage: rootfs/build-initramfs.sh INIT OUTPUT      (runs as non-root too)
#        COMPRESS=none|gzip|lz4 (default none: a software-KVM guest unpacks
#        gzip at ring-0 interpreter speed, which doubled the boot time to /init
#        (45 s vs 21.5 s measured); the kernel detects the format)
#
# Size is boot time: the guest's ring-0 code is slow on the kvm_pvm hosts and
# unpacks this archive before anything else, so ship nothing that isn't
# needed.  Decompression costs more guest instructions than the bytes it saves:
# measured under QEMU TCG with -icount (instructions to "Run /init"), gzip -9
# adds ~44 M over an uncompressed cpio, lz4 ~8 M (of ~320 M in all).
# The output is replaced atomically.
set -euo pipefail

[ $# -eq 2 ] || { echo "usage: $0 INIT OUTPUT" >&2; exit 2; }
INIT=$(realpath -- "$1")
OUT=$(realpath -m -- "$2")
BUSYBOX=${BUSYBOX:-/bin/busybox}

die() { echo "build-initramfs: $*" >&2; exit 1; }
[ -x "$INIT" ] || die "$INIT: no such executable"
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (run: make deps)"
file -L "$BUSYBOX" | grep -q 'statically linked' || die "$BUSYBOX is not static (install busybox-static)"

STAGE=$(mktemp -d "${TMPDIR:-/tmp}/ember-initramfs.XXXXXX")
trap 'rm -rf "$STAGE" "$STAGE.cpio"' EXIT

cd "$STAGE"
mkdir -p bin sbin proc sys dev tmp run root etc mnt
chmod 1777 tmp
chmod 0700 root
install -m 0755 "$INIT" init
install -m 0755 "$BUSYBOX" bin/busybox

# Applets: busybox's own idea of bin vs sbin, with usr/ folded in (no /usr here).
"$BUSYBOX" --list-full | while read -r path; do
    name=${path##*/}
    case $path in
        sbin/*|usr/sbin/*) dir=sbin ;;
        bin/*|usr/bin/*)   dir=bin ;;
        *)                 continue ;; # "linuxrc"
    esac
    [ -e "$dir/$name" ] || [ -L "$dir/$name" ] || ln -s /bin/busybox "$dir/$name"
done

printf 'root:x:0:0:root:/root:/bin/sh\n' > etc/passwd
printf 'root:x:0:\ntty:x:5:\n' > etc/group
chmod 0644 etc/passwd etc/group

# Same bytes for the same inputs: fixed mtimes, owner root, sorted names.
find . -exec touch -h -d @0 {} +

# newc entry for a character device, which cpio -o can only copy from a real
# node (mknod needs root).  The kernel unpacks concatenated archives.
newc_entry() { # ino name mode rdevmajor rdevminor
    local name=$2 namesize=$((${#2} + 1))
    printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
        "$1" "$3" 0 0 1 0 0 0 0 "$4" "$5" "$namesize" 0
    printf '%s\0' "$name"
    # header (110) + name, padded to a multiple of 4
    local pad=$(( (4 - (110 + namesize) % 4) % 4 ))
    head -c "$pad" /dev/zero
}

{
    find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
        cpio -o -H newc -R 0:0 --reproducible --quiet
    newc_entry $((0x7fff0001)) dev/console $((0020600)) 5 1
    newc_entry 0 'TRAILER!!!' 0 0 0
} > "$STAGE.cpio"

mkdir -p "$(dirname "$OUT")"
case ${COMPRESS:-none} in
    gzip) gzip -9 -n -c "$STAGE.cpio" > "$OUT.tmp" ;;
    lz4)  lz4 -l -9 -q -c "$STAGE.cpio" > "$OUT.tmp" ;; # -l: the kernel reads only the legacy format
    none) cp "$STAGE.cpio" "$OUT.tmp" ;;
    *)    die "COMPRESS=$COMPRESS: want gzip, lz4 or none" ;;
esac
mv -f "$OUT.tmp" "$OUT"
echo "build-initramfs: $OUT: $(stat -c %s "$OUT") bytes ($(stat -c %s "$STAGE.cpio") uncompressed)" >&2
