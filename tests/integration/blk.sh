#!/usr/bin/env bash
# virtio-blk under a real Linux guest, in ONE boot (each costs ~25 s on a
# software-KVM host):
#   vda  ext4 image (rw)          mount, read hello.txt, write new.txt, fstrim, umount
#   vdb  raw image (,ro)          writes refused, reads match the host's bytes
#   vdc  raw image (rw, serial=)  dd at an offset, blkdiscard, GET_ID, a rough speed
#   vdd  the guest script itself  (percent-escaped on the kernel command line it
#                                 would not fit in 2048 bytes), run as sh /dev/vdd
# The host then inspects the images.  Run from anywhere: tests/integration/blk.sh
# Needs ./ember, build/guest/{bzImage,initramfs.cpio}, mke2fs, debugfs, e2fsck.
SUITE=blk
. "$(dirname "$0")/lib.sh"
export PATH="$PATH:/sbin:/usr/sbin"

require_guest
for tool in mke2fs debugfs e2fsck sha256sum cmp; do
	command -v "$tool" >/dev/null || { fail "setup" "$tool not installed (e2fsprogs, coreutils)"; finish; }
done

# --- images ------------------------------------------------------------------
HELLO='hello from the host, via virtio-blk'
NEW='written by the guest on ext4'
mkdir "$out/root"
printf '%s\n' "$HELLO" >"$out/root/hello.txt"
mke2fs -q -t ext4 -d "$out/root" "$out/ext4.img" 16M >"$out/mke2fs.log" 2>&1 ||
	{ fail "setup" "mke2fs failed: $(cat "$out/mke2fs.log")"; finish; }
head -c 1M /dev/urandom >"$out/ro.img"
ro_sha=$(sha256sum <"$out/ro.img" | cut -d' ' -f1)
head -c 32M /dev/urandom >"$out/raw.img"
cp "$out/raw.img" "$out/raw.orig"
yes ember-blk | head -c 65536 >"$out/pattern"

# --- a user error stops ember before the VM starts ------------------------------
"$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" --disk "$out/missing.img" -- true \
	>"$out/missing.out" 2>"$out/missing.err" </dev/null
rc=$?
check "--disk with a missing file: one-line error, no boot" \
	$([ "$rc" -ne 0 ] && [ "$(wc -l <"$out/missing.err")" -eq 1 ] &&
	  grep -q "^ember: --disk $out/missing.img: No such file or directory" "$out/missing.err"; echo $?) \
	"exit $rc; stderr: $(cat "$out/missing.err")"

# --- the boot -------------------------------------------------------------------
cat >"$out/script.img" <<'GUEST'
up() { cut -d" " -f1 /proc/uptime; }
echo "sizes: $(cat /sys/block/vda/size) $(cat /sys/block/vdb/size) $(cat /sys/block/vdc/size)"
echo "ro-flags: $(cat /sys/block/vda/ro) $(cat /sys/block/vdb/ro) $(cat /sys/block/vdc/ro)"
echo "serials: [$(cat /sys/block/vda/serial)] [$(cat /sys/block/vdc/serial)]"
echo "cache: $(cat /sys/block/vda/queue/write_cache)"
echo "discard-max: $(cat /sys/block/vda/queue/discard_max_bytes) $(cat /sys/block/vdb/queue/discard_max_bytes)"
mount -t ext4 /dev/vda /mnt && echo "mounted"
echo "hello: $(cat /mnt/hello.txt)"
echo "$1" >/mnt/new.txt && sync && echo "synced"
fstrim /mnt && echo "trimmed"
umount /mnt && echo "unmounted"
if dd if=/dev/zero of=/dev/vdb bs=512 count=1 2>/dev/null; then echo "vdb-write-accepted"; else echo "vdb-write-refused"; fi
echo "vdb-sha: $(sha256sum </dev/vdb | cut -d" " -f1)"
yes ember-blk | head -c 65536 | dd of=/dev/vdc bs=4096 seek=256 iflag=fullblock conv=fsync 2>/dev/null && echo "vdc-written"
blkdiscard -o 2097152 -l 1048576 /dev/vdc && echo "vdc-discarded"
t0=$(up)
dd if=/dev/zero of=/dev/vdc bs=1M seek=8 count=16 oflag=direct 2>/dev/null && echo "vdc-bulk-written"
t1=$(up)
dd if=/dev/vdc of=/dev/null bs=1M skip=8 count=16 iflag=direct 2>/dev/null && echo "vdc-bulk-read"
t2=$(up)
echo "speed: $t0 $t1 $t2"
echo "guest-done"
GUEST
# Padded to whole sectors with newlines, which sh skips.
pad=$(( (512 - $(stat -c %s "$out/script.img") % 512) % 512 ))
head -c "$pad" /dev/zero | tr '\0' '\n' >>"$out/script.img"
start=$(date +%s.%N)
timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" \
	--disk "$out/ext4.img" --disk "$out/ro.img,ro" --disk "$out/raw.img,serial=ember-raw-1" \
	--disk "$out/script.img,ro" -- /bin/sh /dev/vdd "$NEW" >"$out/boot.out" 2>"$out/boot.err" </dev/null
rc=$?
printf '# boot: exit %s after %.1f s\n' "$rc" "$(echo "$(date +%s.%N) - $start" | bc)"
g() { # g PREFIX: the first line of guest output starting with PREFIX (status 1 if none)
	local line
	line=$(grep -a -m1 "^$1" "$out/boot.out") || return 1
	printf '%s\n' "${line%$'\r'}"
}
show="stdout: $(tail -c 600 "$out/boot.out" | tr '\r' ' '); stderr: $(tail -c 400 "$out/boot.err")"

check "the guest ran to the end and ember exited 0" \
	$([ "$rc" = 0 ] && g guest-done >/dev/null; echo $?) "exit $rc; $show"
check "no guest driver errors reported" $( ! grep -q 'guest driver error' "$out/boot.err"; echo $?) \
	"$(cat "$out/boot.err")"
check "capacities: 16 MiB, 1 MiB, 32 MiB in sectors" \
	$([ "$(g sizes:)" = "sizes: 32768 2048 65536" ]; echo $?) "$(g sizes:)"
check "the ,ro disk is read-only in the guest, the others are not" \
	$([ "$(g ro-flags:)" = "ro-flags: 0 1 0" ]; echo $?) "$(g ro-flags:)"
check "GET_ID: serial= reaches the guest, the default is empty" \
	$([ "$(g serials:)" = "serials: [] [ember-raw-1]" ]; echo $?) "$(g serials:)"
check "FLUSH offered: the guest sees a write-back cache" \
	$([ "$(g cache:)" = "cache: write back" ]; echo $?) "$(g cache:)"
check "DISCARD offered on rw disks only" \
	$(g discard-max: | grep -qE '^discard-max: [1-9][0-9]* 0$'; echo $?) "$(g discard-max:)"
check "ext4 on vda mounts and hello.txt reads back" \
	$([ "$(g hello:)" = "hello: $HELLO" ]; echo $?) "$(g hello:); $show"
check "guest sync, fstrim and umount succeed" \
	$(g synced >/dev/null && g trimmed >/dev/null && g unmounted >/dev/null; echo $?) "$show"
got_new=$(debugfs -R 'cat /new.txt' "$out/ext4.img" 2>/dev/null)
check "new.txt written by the guest is in the image (debugfs)" \
	$([ "$got_new" = "$NEW" ]; echo $?) "debugfs: '$got_new'"
e2fsck -fn "$out/ext4.img" >"$out/fsck.out" 2>&1
fsck_rc=$?
check "the ext4 image is clean after the guest unmounted it (e2fsck -fn)" $fsck_rc "$(tail -5 "$out/fsck.out")"
check "writing to the ,ro disk fails in the guest" \
	$(g vdb-write-refused >/dev/null; echo $?) "$(grep -a vdb-write "$out/boot.out")"
check "the ,ro image is unchanged (sha256)" \
	$([ "$(sha256sum <"$out/ro.img" | cut -d' ' -f1)" = "$ro_sha" ]; echo $?) "sha256 changed"
check "the guest reads the ,ro disk's exact bytes (sha256)" \
	$([ "$(g vdb-sha:)" = "vdb-sha: $ro_sha" ]; echo $?) "$(g vdb-sha:) vs $ro_sha"
check "dd to vdc at 1 MiB lands at that offset of the image" \
	$(g vdc-written >/dev/null && cmp -s -n 65536 -i 1048576:0 "$out/raw.img" "$out/pattern"; echo $?) \
	"$(cmp -n 65536 -i 1048576:0 "$out/raw.img" "$out/pattern" 2>&1)"
check "blkdiscard on vdc leaves zeroes in the image" \
	$(g vdc-discarded >/dev/null && cmp -s -n 1048576 -i 2097152:0 "$out/raw.img" /dev/zero; echo $?) \
	"$(g vdc-discarded); $(cmp -n 1048576 -i 2097152:0 "$out/raw.img" /dev/zero 2>&1)"
check "bytes of vdc the guest never wrote are untouched" \
	$(cmp -s -n 1048576 "$out/raw.img" "$out/raw.orig" &&
	  cmp -s -n 983040 -i 1114112:1114112 "$out/raw.img" "$out/raw.orig" &&
	  cmp -s -n 5242880 -i 3145728:3145728 "$out/raw.img" "$out/raw.orig" &&
	  cmp -s -i 25165824:25165824 "$out/raw.img" "$out/raw.orig"; echo $?) "image differs outside the written ranges"
check "16 MiB O_DIRECT write and read on vdc" \
	$(g vdc-bulk-written >/dev/null && g vdc-bulk-read >/dev/null &&
	  cmp -s -n 16777216 -i 8388608:0 "$out/raw.img" /dev/zero; echo $?) "$show"
if speed=$(g speed:); then
	set -- $speed
	echo "$2 $3 $4" | awk '{ w = $2 - $1; r = $3 - $2;
		printf "# guest O_DIRECT 1 MiB blocks: write 16 MiB in %.2f s (%.1f MiB/s), read in %.2f s (%.1f MiB/s)\n",
		w, (w > 0 ? 16 / w : 0), r, (r > 0 ? 16 / r : 0) }'
fi
finish
