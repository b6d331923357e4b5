#!/usr/bin/env bash
# Runs every cmocka unit-test binary given as an argument and prints one
# closing line "N passed, M failed" counting the binaries.
set -u
passed=0 failed=0
for t in "$@"; do
	if "$t"; then
		passed=$((passed + 1))
	else
		echo "not ok - $t"
		failed=$((failed + 1))
	fi
done
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
