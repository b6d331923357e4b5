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

# flip_byte FILE [AT]: inverts every bit of the byte at AT (default: the middle) of FILE
# (writing a fixed value would change nothing where the file already holds it, as
# LZ4's runs of 0xff).
flip_byte() {
	local at=${2:-$(( $(stat -c %s "$1") / 2 ))} b
	b=$(od -An -tu1 -j "$at" -N1 "$1" | tr -d ' ')
	printf "\\x$(printf %02x $((b ^ 0xff)))" | dd of="$1" bs=1 seek="$at" conv=notrunc status=none
}
# damage_state FILE: a state file (one LZ4 frame) with a byte flipped in its middle and
# in its content checksum (the last 4 bytes).  The middle byte alone is not always
# damage: in a run of zeros another match offset decodes to the same bytes.
damage_state() {
	flip_byte "$1"
	flip_byte "$1" $(( $(stat -c %s "$1") - 1 ))
}
require_guest() {
	for f in "$EMBER" "$KERNEL" "$INITRD"; do
		[ -e "$f" ] || { fail "setup" "$f missing (run 'make ember guest')"; finish; }
	done
}
