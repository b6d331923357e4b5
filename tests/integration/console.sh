#!/usr/bin/env bash
# --console virtio: the whole console on hvc0 (output and piped input), and
# virtio-rng entropy, in one Linux boot.
# The bytes are counted with hexdump, not od, and through files, not pipes:
# on kvm_pvm, before ember kept guest glibc off AVX (arch/x86/pvm.c), busybox
# od reading a pipe died of SIGSEGV in 14 of 40 runs; files keep this check
# independent of that workaround.
SUITE=console
. "$(dirname "$0")/lib.sh"
require_guest

start=$(date +%s)
printf 'typed-on-host\n' | timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" \
	--initrd "$INITRD" --console virtio -- /bin/sh -c \
	'read -r l; echo "got:$l"; echo "console=$(cut -d" " -f1 /proc/consoles | head -1)";
	 echo "rng=$(cat /sys/class/misc/hw_random/rng_current)";
	 echo "bytes=$(head -c 4096 /dev/hwrng | wc -c)";
	 head -c 256 /dev/hwrng >/tmp/r; hexdump -v -e "1/1 \"%02x\n\"" /tmp/r >/tmp/h; sort -u /tmp/h >/tmp/u;
	 echo "distinct=$(grep -c . /tmp/u)";
	 echo err-too >&2; exit 3' >"$out/out" 2>"$out/err"
rc=$?
echo "# virtio console boot: exit $rc after $(( $(date +%s) - start )) s"
check "exit status through the virtio console run (3)" $([ "$rc" = 3 ]; echo $?) "got $rc; $(tail -3 "$out/err")"
check "the guest's console is hvc0" $(grep -qx 'console=hvc0' "$out/out"; echo $?) "$(head -c 300 "$out/out")"
check "piped stdin reaches the guest over hvc0" $(grep -qx 'got:typed-on-host' "$out/out"; echo $?) "$(head -c 300 "$out/out")"
check "stderr shares the single console" $(grep -qx 'err-too' "$out/out"; echo $?) "$(head -c 300 "$out/out")"
check "the guest's hwrng is virtio-rng" $(grep -q '^rng=virtio_rng' "$out/out"; echo $?) "$(head -c 300 "$out/out")"
check "/dev/hwrng yields 4096 bytes" $(grep -qx 'bytes=4096' "$out/out"; echo $?) "$(head -c 300 "$out/out")"
distinct=$(sed -n 's/^distinct=//p' "$out/out")
check "hwrng bytes look random (>100 distinct values in 256)" $([ "${distinct:-0}" -gt 100 ]; echo $?) "distinct=$distinct"

finish
