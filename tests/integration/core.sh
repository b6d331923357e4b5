#!/usr/bin/env bash
# Integration tests: real Linux boots of the project's guest kernel and
# initramfs under ./ember.  Each boot costs ~20-30 s on a software-KVM host,
# so every boot checks several things at once.  Boots run one at a time.
set -u
cd "$(dirname "$0")/../.."

EMBER=${EMBER:-./ember}
KERNEL=${KERNEL:-build/guest/bzImage}
INITRD=${INITRD:-build/guest/initramfs.cpio}
BOOT_TIMEOUT=${BOOT_TIMEOUT:-240}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
passed=0 failed=0

ok()   { echo "ok - $1"; passed=$((passed + 1)); }
fail() { echo "not ok - $1: $2"; failed=$((failed + 1)); }
check() { # check NAME CONDITION-EXIT-STATUS DETAILS
	if [ "$2" -eq 0 ]; then ok "$1"; else fail "$1" "$3"; fi
}

for f in "$EMBER" "$KERNEL" "$INITRD"; do
	[ -e "$f" ] || { echo "not ok - setup: $f missing (run 'make ember guest')"; echo "0 passed, 1 failed"; exit 1; }
done

# boot NAME [ember args...] -- command: stdout/stderr in $out/NAME.{out,err}, code in $out/NAME.rc
boot() {
	local name=$1; shift
	local start=$(date +%s.%N)
	timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" "$@" \
		>"$out/$name.out" 2>"$out/$name.err" </dev/null
	echo $? >"$out/$name.rc"
	printf '# %s: exit %s after %.1f s\n' "$name" "$(cat "$out/$name.rc")" \
		"$(echo "$(date +%s.%N) - $start" | bc)"
}

# --- boot 1: command, exit code, SMP, argument quoting ---------------------
boot smp --cpus 2 --boot-timer -- /bin/sh -c \
	'echo ember-ok; echo "cpus=$(nproc)"; for a in "$@"; do printf "[%s]\n" "$a"; done; exit 7' \
	sh "two words" "it's" 'dq"uote' 'new
line' 'ünï'
rc=$(cat "$out/smp.rc")
check "exit code is the guest command's (7)" $([ "$rc" = 7 ]; echo $?) "got $rc; stderr: $(tail -3 "$out/smp.err")"
check "guest stdout reaches ember's stdout" $(grep -qx 'ember-ok' "$out/smp.out"; echo $?) "stdout: $(head -c 300 "$out/smp.out")"
check "--cpus 2: the guest sees 2 CPUs" $(grep -qx 'cpus=2' "$out/smp.out"; echo $?) "stdout: $(head -c 300 "$out/smp.out")"
expected=$(printf '[two words]\n[it'"'"'s]\n[dq"uote]\n[new\nline]\n[ünï]')
actual=$(sed -n '/^\[/,$p' "$out/smp.out")
check "arguments survive the kernel command line exactly" $([ "$actual" = "$expected" ]; echo $?) "got: $actual"
check "kernel messages are quiet by default" $( ! grep -q 'Linux version' "$out/smp.out"; echo $?) "kernel log on stdout"
check "--boot-timer reports the guest's init start" $(grep -q 'guest boot took' "$out/smp.err"; echo $?) "stderr: $(cat "$out/smp.err")"
grep -h 'guest boot took' "$out/smp.err" | sed 's/^/# /'

# --- boot 2: stdin to the guest, default exit status 0 ---------------------
start=$(date +%s.%N)
printf 'line-from-host\nsecond\n' | timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" \
	--initrd "$INITRD" -- /bin/sh -c 'read -r l; echo "got:$l"' >"$out/stdin.out" 2>"$out/stdin.err"
rc=$?
printf '# stdin: exit %s after %.1f s\n' "$rc" "$(echo "$(date +%s.%N) - $start" | bc)"
check "stdin reaches the guest through the UART" $(grep -qx 'got:line-from-host' "$out/stdin.out"; echo $?) "stdout: $(head -c 300 "$out/stdin.out"); stderr: $(tail -3 "$out/stdin.err")"
check "a command that exits 0 makes ember exit 0" $([ "$rc" = 0 ]; echo $?) "got $rc"

echo "core: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
