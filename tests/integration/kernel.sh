#!/usr/bin/env bash
# What the guest kernel offers the jobs people run in it (rootfs/guest-kernel.config,
# README "Guest kernels"): SysV shared memory, semaphores and message queues,
# POSIX message queues and /dev/shm; user, mount, pid, net, uts and ipc
# namespaces (pid 1 inside, as unshare -Urpf does); overlayfs; loop devices;
# inotify; seccomp filters; cgroup v2 with the memory, pids and cpu controllers;
# on kvm_pvm hosts, the GLIBC_TUNABLES that keep guest glibc off AVX reach the
# command (arch/x86/pvm.c).
# tests/integration/guest_features.c, built static on the host and shared into
# the guest, makes each call and prints one line per feature.
SUITE=kernel
. "$(dirname "$0")/lib.sh"
require_guest
mkdir -p "$out/bin"
if ! cc -static -O1 -o "$out/bin/features" tests/integration/guest_features.c -lrt 2>"$out/cc.err"; then
	fail "build the guest-side check" "$(tail -3 "$out/cc.err")"
	finish
fi
o=$(timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" \
	--share "$out/bin:/opt/check:ro" -- sh -c '/opt/check/features; rc=$?
	echo "tunables=$GLIBC_TUNABLES"; exit $rc' 2>"$out/run.err"); rc=$?
echo "$o" | sed 's/^/# /'
for f in sysv-shm sysv-sem sysv-msg posix-mqueue dev-shm namespaces overlayfs loop-devices inotify \
	seccomp-filter cgroup2; do
	line=$(echo "$o" | grep -E "^(ok|fail) $f(:|$)")
	check "guest kernel: $f" $([ "$line" = "ok $f" ]; echo $?) "${line:-no line (rc $rc; $(tail -2 "$out/run.err"))}"
done
check "the check program exits 0" $([ "$rc" = 0 ]; echo $?) "rc $rc"
# arch/x86/pvm.c: on kvm_pvm, glibc in the guest is kept off AVX; elsewhere nothing is set.
tunables=$(echo "$o" | sed -n 's/^tunables=//p')
if [ -e /sys/module/kvm_pvm ]; then
	check "kvm_pvm host: the command inherits ember's GLIBC_TUNABLES (AVX off)" \
		$(case $tunables in *-AVX2*-AVX512F*) echo 0 ;; *) echo 1 ;; esac) "'$tunables'"
else
	check "hardware KVM: the command's environment has no GLIBC_TUNABLES" $([ -z "$tunables" ]; echo $?) "'$tunables'"
fi
finish
