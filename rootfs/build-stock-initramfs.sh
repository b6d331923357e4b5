#!/bin/bash
# SPDX-License-Identifier: GPL-2.0-only
# A stock Debian 12 cloud kernel and an initramfs for it, for
# tests/integration/stock-kernel.sh: the kernel that finds virtio-mmio devices
# only through ember's ACPI tables (its virtio_mmio is a module built without
# CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES).
#
# Usage: rootfs/build-stock-initramfs.sh OUTDIR
# Writes OUTDIR/vmlinuz (the package's bzImage), OUTDIR/initramfs.cpio and
# OUTDIR/release (the kernel release, e.g. 6.1.0-56-cloud-amd64), and prints
# the two image paths on stdout; progress goes to stderr.
#
#  1. Resolves the versioned package behind linux-image-cloud-amd64 (apt-cache;
#     'apt-get update' only when apt knows no such package, or the download
#     fails with lists that are out of date) and fetches it with
#     'apt-get download' (no root needed).  STOCK_DEB=FILE.deb uses that file.
#  2. Unpacks it with dpkg-deb -x, runs depmod on the unpacked tree (the
#     package ships no modules.dep: its postinst makes one) and orders the
#     modules in STOCK_MODULES plus everything they need (modules.dep,
#     pre/post soft dependencies) so that each comes after its dependencies.
#     Modules built into the kernel (modules.builtin) are left out.
#     Compressed modules (.ko.xz/.zst, and .gz where depmod indexes them:
#     Debian's kmod has no zlib) are decompressed here: busybox insmod reads
#     only plain ELF.
#  3. Builds the initramfs with rootfs/build-initramfs.sh (busybox-static,
#     /dev/console; rootfs/stock-init.sh as /init) and appends a second newc
#     archive with /lib/modules/*.ko and /etc/stock-modules (the load order);
#     the kernel unpacks concatenated archives.
#
# Everything is cached in ${EMBER_CACHE:-~/.cache/ember}/stock-<release>_<version>/:
# the .deb, the vmlinuz, and the initramfs (rebuilt when this script,
# stock-init.sh, build-initramfs.sh, busybox or STOCK_MODULES change).  A warm
# run copies (hard-links) two files.
set -euo pipefail

[ $# -eq 1 ] || { echo "usage: $0 OUTDIR" >&2; exit 2; }
OUTDIR=$(realpath -m -- "$1")
HERE=$(cd "$(dirname "$0")" && pwd)
META=${STOCK_META:-linux-image-cloud-amd64}
# Module names as modinfo spells them ('-' and '_' are the same).  virtio and
# virtio_ring come in through modules.dep; ext4 (with jbd2, mbcache, crc16)
# only if the kernel has it as a module; crc32c_generic because ext4's
# metadata_csum asks the crypto API for crc32c at mount time, a request only
# modprobe could answer.
STOCK_MODULES=${STOCK_MODULES:-virtio_mmio virtio_blk ext4 crc32c_generic}
BUSYBOX=${BUSYBOX:-/bin/busybox}
CACHE_ROOT=${EMBER_CACHE:-$HOME/.cache/ember}
export PATH="$PATH:/sbin:/usr/sbin"

log() { echo "build-stock-initramfs: $*" >&2; }
die() { log "$*"; exit 1; }

for tool in dpkg-deb cpio sha256sum file; do
	command -v "$tool" >/dev/null || die "$tool not found (install dpkg, cpio, coreutils, file)"
done
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (apt-get install busybox-static)"
DEPMOD=(depmod)
command -v depmod >/dev/null || DEPMOD=("$BUSYBOX" depmod) # kmod is not installed everywhere

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ember-stock.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# --- 1. the package ---------------------------------------------------------------
apt_update() {
	log "apt-get update ($1)"
	if [ "$(id -u)" -eq 0 ]; then
		apt-get update -qq >&2
	elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo -n apt-get update -qq >&2
	else
		die "$1, and 'apt-get update' needs root: run it once as root"
	fi
}

# PKG and VER: the versioned package the metapackage's candidate depends on
# (e.g. linux-image-6.1.0-56-cloud-amd64, not a -dbg or -unsigned one) and
# its candidate version.  Status 1 if apt does not know them.
resolve() {
	PKG=$(apt-cache depends "$META" 2>/dev/null |
		sed -nE 's/^ *[|]?Depends: (linux-image-[0-9][^ ]*-cloud-amd64)$/\1/p' | head -n 1)
	[ -n "$PKG" ] || return 1
	VER=$(apt-cache policy "$PKG" 2>/dev/null | sed -nE 's/^ *Candidate: (.*)$/\1/p')
	[ -n "$VER" ] && [ "$VER" != "(none)" ]
}

# The cache directory for PKG VER, and DEB in it, downloaded unless already there.
fetch() {
	CACHE="$CACHE_ROOT/stock-${PKG#linux-image-}_${VER}"
	DEB="$CACHE/${PKG}_${VER//:/%3a}_amd64.deb"
	mkdir -p "$CACHE"
	if [ -s "$DEB" ] && dpkg-deb -f "$DEB" Package >/dev/null 2>&1; then
		return 0
	fi
	log "downloading $PKG $VER"
	rm -f "$WORK"/*.deb
	(cd "$WORK" && apt-get download -q "$PKG=$VER" >&2) || return 1
	set -- "$WORK"/*.deb
	if [ $# -ne 1 ] || ! [ -f "$1" ]; then die "apt-get download left no .deb in $WORK"; fi
	mv -f "$1" "$DEB.tmp"
	mv -f "$DEB.tmp" "$DEB"
}

if [ -n "${STOCK_DEB:-}" ]; then
	DEB=$(realpath -- "$STOCK_DEB")
	[ -f "$DEB" ] || die "STOCK_DEB=$STOCK_DEB: no such file"
	PKG=$(dpkg-deb -f "$DEB" Package)
	VER=$(dpkg-deb -f "$DEB" Version)
	CACHE="$CACHE_ROOT/stock-${PKG#linux-image-}_${VER}"
	mkdir -p "$CACHE"
else
	command -v apt-get >/dev/null || die "apt-get not found: this needs a Debian host (or STOCK_DEB=FILE.deb)"
	if ! resolve; then
		apt_update "apt knows no $META"
		resolve || die "no $META package in apt's lists (is a Debian 12 'main' source configured?)"
	fi
	if ! fetch; then
		apt_update "downloading $PKG $VER failed: apt's lists may be out of date"
		resolve || die "no $META package in apt's lists after 'apt-get update'"
		fetch || die "apt-get download $PKG=$VER failed"
	fi
fi
RELEASE=${PKG#linux-image-}
case $RELEASE in
	[0-9]*) ;;
	*) die "$PKG: not a linux-image-<release> package" ;;
esac
[ "$(dpkg-deb -f "$DEB" Package)" = "$PKG" ] || die "$DEB is not $PKG"

# Everything the initramfs is made from: a change to any of these rebuilds it.
KEY=$({
	sha256sum "$DEB" "$0" "$HERE/stock-init.sh" "$HERE/build-initramfs.sh" "$BUSYBOX" | cut -d' ' -f1
	echo "$STOCK_MODULES"
} | sha256sum | cut -c1-16)

# --- 2. kernel and modules ------------------------------------------------------
if [ -s "$CACHE/vmlinuz" ] && [ -s "$CACHE/initramfs.cpio" ] &&
   [ "$(cat "$CACHE/initramfs.key" 2>/dev/null)" = "$KEY" ]; then
	log "cached: $CACHE"
else
	log "unpacking $(basename "$DEB")"
	X="$WORK/x"
	dpkg-deb -x "$DEB" "$X"
	MODDIR="$X/lib/modules/$RELEASE"
	VMLINUZ="$X/boot/vmlinuz-$RELEASE"
	[ -f "$VMLINUZ" ] || die "$(basename "$DEB") has no boot/vmlinuz-$RELEASE"
	[ -d "$MODDIR" ] || die "$(basename "$DEB") has no lib/modules/$RELEASE"
	kinfo=$(file -b "$VMLINUZ")
	case $kinfo in
		*bzImage*) log "vmlinuz: $kinfo" ;;
		*) die "boot/vmlinuz-$RELEASE is not a bzImage: $kinfo" ;;
	esac
	cfg="$X/boot/config-$RELEASE"
	if [ -f "$cfg" ]; then
		log "config: $(grep -oE '^CONFIG_KERNEL_(GZIP|BZIP2|LZMA|XZ|LZO|LZ4|ZSTD)=y' "$cfg" | head -n 1)" \
		    "$(grep -E '^(# )?CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES[ =]' "$cfg" || true)"
	fi

	"${DEPMOD[@]}" -b "$X" "$RELEASE" || die "depmod -b failed on the unpacked package"
	[ -s "$MODDIR/modules.dep" ] || die "depmod wrote no modules.dep"

	# Module name (norm) -> its path relative to $MODDIR and its dependencies
	# (modules.dep), soft dependencies, built-in modules and aliases, and the
	# first module providing each alias.
	norm() { local n=${1##*/}; n=${n%%.ko*}; echo "${n//-/_}"; }
	declare -A path_of=() deps_of=() soft_pre=() soft_post=() builtin=() alias_of=()
	while IFS= read -r line; do
		m=${line%%:*}
		path_of[$(norm "$m")]=$m
		deps_of[$(norm "$m")]=${line#*:}
	done <"$MODDIR/modules.dep"
	if [ -f "$MODDIR/modules.builtin" ]; then
		while IFS= read -r m; do builtin[$(norm "$m")]=1; done <"$MODDIR/modules.builtin"
	fi
	if [ -f "$MODDIR/modules.softdep" ]; then
		# softdep MOD pre: A B post: C
		while read -r word mod rest; do
			[ "$word" = softdep ] || continue
			pre=${rest#pre: }; [ "$pre" != "$rest" ] || pre=
			pre=${pre%%post:*}
			post=
			case $rest in *post:*) post=${rest#*post: } ;; esac
			soft_pre[$(norm "$mod")]=$pre
			soft_post[$(norm "$mod")]=$post
		done <"$MODDIR/modules.softdep"
	fi
	if [ -f "$MODDIR/modules.alias" ]; then
		# The first module for each alias (e.g. crypto-crc32c -> crc32c_generic).
		while read -r word al mod; do
			[ "$word" = alias ] || continue
			[ -n "${alias_of[$al]:-}" ] || alias_of[$al]=$(norm "$mod")
		done <"$MODDIR/modules.alias"
	fi

	# Aliases the kernel itself provides (built-in modules' MODULE_ALIAS).
	if [ -f "$MODDIR/modules.builtin.modinfo" ]; then
		while IFS= read -r al; do builtin[$al]=1; done < <(tr '\0' '\n' <"$MODDIR/modules.builtin.modinfo" |
			sed -nE 's/^[^.]+\.alias=//p')
	fi

	ORDER=()
	declare -A state=()
	# visit NAME WANTED-BY [soft]: depth-first, a module after everything it
	# needs.  A soft dependency that cannot be found is skipped (as modprobe does).
	visit() {
		local n
		n=$(norm "$1")
		if [ -n "${builtin[$1]:-}" ]; then
			n=$1
		elif [ -z "${path_of[$n]:-}" ] && [ -z "${builtin[$n]:-}" ] && [ -n "${alias_of[$1]:-}" ]; then
			n=${alias_of[$1]}
		fi
		case ${state[$n]:-} in
			visited) return 0 ;;
			active) die "module dependency loop at $n" ;;
		esac
		if [ -n "${builtin[$n]:-}" ]; then
			log "module $n: built in"
			state[$n]=visited
			return 0
		fi
		if [ -z "${path_of[$n]:-}" ]; then
			[ -n "${3:-}" ] || die "module $n (wanted by $2) is neither in $PKG nor built in"
			log "module $n (soft dependency of $2): not found, skipped"
			state[$n]=visited
			return 0
		fi
		state[$n]=active
		local d
		for d in ${soft_pre[$n]:-}; do visit "$d" "$n" soft; done
		for d in ${deps_of[$n]}; do visit "$d" "$n"; done
		ORDER+=("${path_of[$n]}")
		state[$n]=visited
		for d in ${soft_post[$n]:-}; do visit "$d" "$n" soft; done
	}
	for m in $STOCK_MODULES; do visit "$m" "STOCK_MODULES"; done

	# The modules archive: lib/modules/NAME.ko (flat, decompressed) + etc/stock-modules.
	MS="$WORK/mods"
	mkdir -p "$MS/lib/modules" "$MS/etc"
	: >"$MS/etc/stock-modules"
	for p in "${ORDER[@]}"; do
		name=$(norm "$p").ko
		case $p in
			*.ko)     cp "$MODDIR/$p" "$MS/lib/modules/$name" ;;
			*.ko.xz)  xz -dc "$MODDIR/$p" >"$MS/lib/modules/$name" ;;
			*.ko.zst) zstd -qdc "$MODDIR/$p" >"$MS/lib/modules/$name" ;;
			*.ko.gz)  gzip -dc "$MODDIR/$p" >"$MS/lib/modules/$name" ;;
			*)        die "$p: unknown module format" ;;
		esac
		file -b "$MS/lib/modules/$name" | grep -q '^ELF 64-bit LSB relocatable' ||
			die "$p: not an ELF module after decompression"
		echo "$name" >>"$MS/etc/stock-modules"
		log "module: $name ($p)"
	done
	[ ${#ORDER[@]} -gt 0 ] || log "every module in STOCK_MODULES is built in"

	# --- 3. the initramfs ----------------------------------------------------------
	# A copy, so that the init is executable whatever mode the checkout gave it.
	install -m 0755 "$HERE/stock-init.sh" "$WORK/init"
	COMPRESS=none BUSYBOX="$BUSYBOX" "$HERE/build-initramfs.sh" "$WORK/init" "$WORK/base.cpio"
	find "$MS" -exec touch -h -d @0 {} +
	(cd "$MS" && find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		cpio -o -H newc -R 0:0 --reproducible --quiet) >"$WORK/mods.cpio"
	cat "$WORK/base.cpio" "$WORK/mods.cpio" >"$WORK/initramfs.cpio"

	cp "$VMLINUZ" "$CACHE/vmlinuz.tmp"
	mv -f "$CACHE/vmlinuz.tmp" "$CACHE/vmlinuz"
	mv -f "$WORK/initramfs.cpio" "$CACHE/initramfs.cpio"
	echo "$RELEASE" >"$CACHE/release"
	echo "$KEY" >"$CACHE/initramfs.key"
	log "built: $CACHE ($(stat -c %s "$CACHE/initramfs.cpio") bytes of initramfs)"
fi

# --- out ------------------------------------------------------------------------
mkdir -p "$OUTDIR"
for f in vmlinuz initramfs.cpio release; do
	if ! [ "$CACHE/$f" -ef "$OUTDIR/$f" ]; then
		ln -f "$CACHE/$f" "$OUTDIR/$f.tmp" 2>/dev/null || cp -f "$CACHE/$f" "$OUTDIR/$f.tmp"
		mv -f "$OUTDIR/$f.tmp" "$OUTDIR/$f"
	fi
done
echo "$OUTDIR/vmlinuz"
echo "$OUTDIR/initramfs.cpio"
