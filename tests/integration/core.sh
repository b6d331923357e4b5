#!/usr/bin/env bash
# Integration tests: real Linux boots of the project's guest kernel and
# initramfs under ./ember.  Each boot costs ~20-30 s on a software-KVM host,
# so every boot checks several things at once.  Boots run one at a time.
SUITE=core
. "$(dirname "$0")/lib.sh"
require_guest

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

# --- boot 1: command, exit code, SMP, quoting, env, workdir, user, stderr ---
boot smp --cpus 2 --boot-timer --env FOO=bar --env 'SP=a b "c"' --workdir /tmp/work \
	--user 1000:100 -- /bin/sh -c \
	'echo ember-ok; echo "cpus=$(nproc)"; echo "foo=$FOO sp=$SP"; echo "pwd=$(pwd)";
	 echo "ids=$(id -u):$(id -g)"; echo to-stderr >&2;
	 for a in "$@"; do printf "[%s]\n" "$a"; done; exit 7' \
	sh "two words" "it's" 'dq"uote' 'new
line' 'ünï'
rc=$(cat "$out/smp.rc")
check "exit code is the guest command's (7)" $([ "$rc" = 7 ]; echo $?) "got $rc; stderr: $(tail -3 "$out/smp.err")"
check "guest stdout reaches ember's stdout" $(grep -qx 'ember-ok' "$out/smp.out"; echo $?) "stdout: $(head -c 300 "$out/smp.out")"
check "--cpus 2: the guest sees 2 CPUs" $(grep -qx 'cpus=2' "$out/smp.out"; echo $?) "stdout: $(head -c 300 "$out/smp.out")"
check "--env reaches the command" $(grep -qx 'foo=bar sp=a b "c"' "$out/smp.out"; echo $?) "stdout: $(head -c 300 "$out/smp.out")"
check "--workdir is the command's working directory" $(grep -qx 'pwd=/tmp/work' "$out/smp.out"; echo $?) "stdout: $(head -c 300 "$out/smp.out")"
check "--user runs the command as 1000:100" $(grep -qx 'ids=1000:100' "$out/smp.out"; echo $?) "stdout: $(head -c 300 "$out/smp.out")"
check "stderr goes to ember's stderr, not stdout" $(grep -qx 'to-stderr' "$out/smp.err" && ! grep -q 'to-stderr' "$out/smp.out"; echo $?) "stderr: $(head -c 300 "$out/smp.err")"
expected=$(printf '[two words]\n[it'"'"'s]\n[dq"uote]\n[new\nline]\n[ünï]')
actual=$(sed -n '/^\[/,$p' "$out/smp.out")
check "arguments arrive exactly (over the command channel)" $([ "$actual" = "$expected" ]; echo $?) "got: $actual"
check "kernel messages are quiet by default" $( ! grep -q 'Linux version' "$out/smp.out" "$out/smp.err"; echo $?) "kernel log printed"
check "--boot-timer reports the guest's init start" $(grep -q 'guest boot took' "$out/smp.err"; echo $?) "stderr: $(cat "$out/smp.err")"
grep -h 'guest boot took' "$out/smp.err" | sed 's/^/# /'

# --- boot 2: stdin (-i), and stdout/stderr byte-for-byte as on the host ----
script='read -r l; printf "got:%s\n" "$l"; printf "a\tb\r\n\001\377 end"; printf "e1\ne2" >&2; exit 0'
printf 'line-from-host\nsecond\n' | sh -c "$script" >"$out/host.out" 2>"$out/host.err"
start=$(date +%s.%N)
printf 'line-from-host\nsecond\n' | timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" \
	--initrd "$INITRD" -i -- /bin/sh -c "$script" >"$out/stdin.out" 2>"$out/stdin.err"
rc=$?
printf '# stdin: exit %s after %.1f s\n' "$rc" "$(echo "$(date +%s.%N) - $start" | bc)"
check "stdin reaches the guest command" $(grep -q '^got:line-from-host' "$out/stdin.out"; echo $?) "stdout: $(head -c 300 "$out/stdin.out"); stderr: $(tail -3 "$out/stdin.err")"
check "stdout is byte-for-byte what the host's sh prints" $(cmp -s "$out/host.out" "$out/stdin.out"; echo $?) "$(od -c "$out/stdin.out" | head -5)"
check "stderr is byte-for-byte what the host's sh prints" $(cmp -s "$out/host.err" "$out/stdin.err"; echo $?) "$(od -c "$out/stdin.err" | head -5)"
check "a command that exits 0 makes ember exit 0" $([ "$rc" = 0 ]; echo $?) "got $rc"

# --- boot 3: a command killed by a signal exits 128+N, like a shell says --
boot signal -- /bin/sh -c 'echo before; kill -TERM $$; echo after'
rc=$(cat "$out/signal.rc")
check "a command killed by SIGTERM makes ember exit 143" $([ "$rc" = 143 ]; echo $?) "got $rc; $(tail -2 "$out/signal.err")"
check "the command stopped at the signal" $(grep -qx before "$out/signal.out" && ! grep -q after "$out/signal.out"; echo $?) "$(head -c 200 "$out/signal.out")"

# --- boot 4: --timeout stops a command that would run for ten minutes -----
start=$(date +%s)
timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" --timeout 40 \
	-- /bin/sh -c 'echo started; sleep 600' >"$out/timeout.out" 2>"$out/timeout.err" </dev/null
rc=$?
took=$(( $(date +%s) - start ))
echo "# timeout: exit $rc after $took s"
check "--timeout: ember exits 124" $([ "$rc" = 124 ]; echo $?) "got $rc; stderr: $(tail -2 "$out/timeout.err")"
check "--timeout: stopped within 3 s of the limit" $([ "$took" -le 43 ]; echo $?) "took $took s"
check "--timeout: says so on stderr" $(grep -q 'timeout 40 s expired' "$out/timeout.err"; echo $?) "stderr: $(cat "$out/timeout.err")"

finish
