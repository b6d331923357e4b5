#!/bin/bash
# Builds the guest kernel (bzImage) from Debian's linux-source-6.1 tarball with
# rootfs/guest-kernel.config, cached outside the repo.
#
#   cache key = sha256(config file + linux-source-6.1 package version + this script)
#   result    = $CACHE/kernel-<key>/{bzImage,System.map,config,build.log}
#   CACHE     = ${EMBER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}
#
# A cache hit returns in a few milliseconds.  A miss unpacks the source once
# into $CACHE/work (shared by all keys), builds out-of-tree in $CACHE/work/obj
# (kept, so a config tweak rebuilds incrementally) and renames the finished
# result into place, so an interrupted build never leaves a half result.
# Build output goes to stderr; the last stdout line is the bzImage path.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SELF="$ROOT/rootfs/build-kernel.sh"
CONFIG="$ROOT/rootfs/guest-kernel.config"
PKG=linux-source-6.1
TARBALL=/usr/src/linux-source-6.1.tar.xz
CACHE=${EMBER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}

die() { echo "build-kernel: $*" >&2; exit 1; }

VER=$(dpkg-query -W -f='${Version}' "$PKG" 2>/dev/null) ||
    die "package $PKG is not installed (run: make deps)"
[ -r "$TARBALL" ] || die "$TARBALL missing (run: make deps)"

KEY=$( { cat "$CONFIG"; printf '%s\n' "$PKG=$VER"; cat "$SELF"; } | sha256sum | cut -c1-16)
OUT="$CACHE/kernel-$KEY"

if [ -f "$OUT/bzImage" ]; then
    echo "$OUT/bzImage"
    exit 0
fi

mkdir -p "$CACHE/work"
# One build at a time per cache (they share the source and object tree).
exec 9>"$CACHE/work/lock"
if ! flock -n 9; then
    echo "build-kernel: waiting for another kernel build in $CACHE ..." >&2
    flock 9
fi
if [ -f "$OUT/bzImage" ]; then        # the other build made it for us
    echo "$OUT/bzImage"
    exit 0
fi

# ---- source: unpacked once per package version ------------------------------
SRC="$CACHE/work/src-$VER"
if [ ! -f "$SRC/Makefile" ]; then
    echo "build-kernel: unpacking $TARBALL into $SRC ..." >&2
    rm -rf "$SRC.tmp"
    mkdir -p "$SRC.tmp"
    tar -C "$SRC.tmp" -xJf "$TARBALL"
    rm -rf "$SRC"
    mv "$SRC.tmp/linux-source-6.1" "$SRC"
    rmdir "$SRC.tmp"
fi

# ---- configure and build out of tree ----------------------------------------
OBJ="$CACHE/work/obj"
mkdir -p "$OBJ"
LOG="$OBJ/build.log"
# Reproducible-ish banner; doesn't affect the cache key.
export KBUILD_BUILD_USER=ember KBUILD_BUILD_HOST=ember
start=$(date +%s)
echo "build-kernel: building $OUT (log: $LOG) ..." >&2

cp "$CONFIG" "$OBJ/.config"
{
    make -C "$SRC" O="$OBJ" olddefconfig
    make -C "$SRC" O="$OBJ" -j"$(nproc)" bzImage
} 2>&1 | tee "$LOG" >&2 || die "kernel build failed, see $LOG (remove $OBJ if it is corrupt)"

# olddefconfig silently drops options whose dependencies are unmet: the guest
# depends on these, so a silent loss must fail the build here, not the boot.
want_y="DEVMEM X86_IOPL_IOPERM VIRTIO_MMIO VIRTIO_MMIO_CMDLINE_DEVICES VIRTIO_BLK
  VIRTIO_CONSOLE HW_RANDOM_VIRTIO VIRTIO_NET VIRTIO_VSOCKETS NET_9P NET_9P_VIRTIO
  9P_FS EXT4_FS DEVTMPFS SERIAL_8250 SERIAL_8250_CONSOLE BLK_DEV_INITRD RD_GZIP
  PVH SMP X86_MPPARSE UNIX98_PTYS TMPFS PROC_FS SYSFS
  SYSVIPC POSIX_MQUEUE NAMESPACES USER_NS PID_NS NET_NS CGROUPS MEMCG CGROUP_PIDS
  CGROUP_BPF SECCOMP_FILTER OVERLAY_FS BLK_DEV_LOOP INOTIFY_USER
  IP_PNP IPV6 PACKET TUN VETH BRIDGE NF_TABLES NFT_NAT NFT_MASQ IP_NF_IPTABLES NETFILTER_XT_TARGET_MASQUERADE"
want_n="STRICT_DEVMEM ACPI PTP_1588_CLOCK LEGACY_PTYS MODULES"
bad=
for o in $want_y; do grep -qx "CONFIG_$o=y" "$OBJ/.config" || bad="$bad $o(want y)"; done
for o in $want_n; do grep -q "^CONFIG_$o=" "$OBJ/.config" && bad="$bad $o(want off)"; done
[ -z "$bad" ] || die "resulting .config differs from what the guest needs:$bad"
# Anything else olddefconfig changed is worth knowing about (toolchain lines aside).
if ! diff <(grep -E '^(CONFIG_|# CONFIG_)' "$CONFIG" | grep -vE 'CONFIG_(CC|GCC|CLANG|AS|LD|LLD|PAHOLE)_' | sort) \
          <(grep -E '^(CONFIG_|# CONFIG_)' "$OBJ/.config" | grep -vE 'CONFIG_(CC|GCC|CLANG|AS|LD|LLD|PAHOLE)_' | sort) \
          > "$OBJ/config.diff"; then
    echo "build-kernel: note: olddefconfig changed the config (see $OBJ/config.diff):" >&2
    cat "$OBJ/config.diff" >&2
fi

# ---- publish atomically ------------------------------------------------------
TMP="$OUT.tmp.$$"
rm -rf "$TMP"
mkdir -p "$TMP"
cp "$OBJ/arch/x86/boot/bzImage" "$TMP/bzImage"
cp "$OBJ/System.map" "$TMP/System.map"
cp "$OBJ/.config" "$TMP/config"
cp "$LOG" "$TMP/build.log"
rm -rf "$OUT"
mv "$TMP" "$OUT"
echo "build-kernel: done in $(( $(date +%s) - start )) s: $(stat -c %s "$OUT/bzImage") bytes" >&2
echo "$OUT/bzImage"
