# Shared setup for the integration scripts (real Linux boots under ./ember).
# A script sets SUITE, sources this file, calls require_guest if it boots
# ember's guest, records results with check, and ends with finish.
set -u
cd "$(dirname "${BASH_SOURCE[0]}")/../.."

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
# The closing line tests/integration/run.sh adds up; exits with the verdict.
finish() { echo "$SUITE: $passed passed, $failed failed"; [ "$failed" -eq 0 ]; exit; }

require_guest() {
	for f in "$EMBER" "$KERNEL" "$INITRD"; do
		[ -e "$f" ] || { fail "setup" "$f missing (run 'make ember guest')"; finish; }
	done
}
