#!/usr/bin/env bash
# virtio-vsock (virtio/vsock.c) through a real guest kernel, in Firecracker's
# hybrid convention, in one boot: the guest runs tests/integration/vsock_peer.c
# (built static here, shared in at /t) in several roles while a Python driver
# here plays the host's side on the Unix sockets, concurrently:
#   host -> guest  "CONNECT 5000" (with the first data in the same write) is
#                  answered "OK <port>", and 16 MiB of random bytes come back
#                  intact from the guest's echo server, then end of file;
#   guest -> host  a guest connect to CID 2 port 6000 reaches our listener at
#                  PATH_6000, which checks 1 MiB of pattern and answers its
#                  SHA-256; one to 6001, where nothing listens, fails at once;
#   closing        the host closing mid-stream (both directions) ends the
#                  guest's side with EPIPE/ECONNRESET, the guest closing gives
#                  the host end of file;
#   bad input      garbage instead of a CONNECT line is closed and the VM goes
#                  on serving; bad --vsock values fail in one line (exit 125)
#                  and leave an existing path alone; PATH is gone after ember.
# Everything runs under timeouts: a connection that is not closed fails a
# check instead of hanging the suite.
SUITE=vsock
. "$(dirname "$0")/lib.sh"
require_guest
command -v python3 >/dev/null || { fail "setup" "python3 missing"; finish; }
mkdir -p "$out/bin" "$out/s"
cc=gcc
command -v musl-gcc >/dev/null && cc=musl-gcc
if ! "$cc" -static -O2 -Wall -Wextra -Werror -o "$out/bin/vsock_peer" tests/integration/vsock_peer.c 2>"$out/cc.err"; then
	fail "build the guest-side peer ($cc)" "$(tail -3 "$out/cc.err")"
	finish
fi

# --- bad input: one line, exit 125, nothing made or removed (no boot: ember stops before)
bad() { # bad NAME EXPECT-IN-MESSAGE ember-run-args...
	local name=$1 want=$2; shift 2
	timeout -k 5 60 "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" "$@" -- true >/dev/null 2>"$out/bad.err"
	local rc=$?
	check "$name: refused in one line naming --vsock (exit 125)" \
		$([ "$rc" = 125 ] && [ "$(wc -l <"$out/bad.err")" = 1 ] && grep -q -- "--vsock" "$out/bad.err" &&
			grep -q -- "$want" "$out/bad.err"; echo $?) "rc $rc: $(head -c 400 "$out/bad.err")"
}
echo keep >"$out/s/exists"
bad "--vsock on an existing file" "$out/s/exists" --vsock "$out/s/exists"
check "... and the file is left as it was" $([ "$(cat "$out/s/exists" 2>&1)" = keep ]; echo $?) "$(ls -l "$out/s/exists" 2>&1)"
bad "--vsock PATH,cid=2 (the host's CID)" "cid=2" --vsock "$out/s/c2,cid=2"
check "... and PATH is not created" $([ ! -e "$out/s/c2" ]; echo $?) "$(ls -l "$out/s")"
bad "--vsock in a missing directory" "$out/s/nodir/v" --vsock "$out/s/nodir/v"

# --- the boot
sock="$out/s/v"
head -c $((16 << 20)) /dev/urandom >"$out/big"
big_sum=$(sha256sum <"$out/big" | cut -d' ' -f1)
cat >"$out/host.py" <<'EOF'
# The host's side: listeners at PATH_6000 and PATH_6002 (up before ember
# starts), then clients of PATH.  Prints "KEY VALUE..." facts; vsock.sh checks them.
import hashlib, os, select, socket, sys, threading, time

path, big, budget = sys.argv[1], sys.argv[2], float(sys.argv[3])
deadline = time.monotonic() + budget
lock = threading.Lock()

def fact(*words):
    with lock:
        print(*words, flush=True)

def left():
    return max(1.0, deadline - time.monotonic())

def pattern(n):
    return (bytes(range(251)) * (n // 251 + 1))[:n]

def read_to_eof(s, limit=None):
    """Everything until end of file (or reset); returns (bytes, how it ended)."""
    data = bytearray()
    try:
        while limit is None or len(data) < limit:
            chunk = s.recv(1 << 18)
            if not chunk:
                return bytes(data), "eof"
            data += chunk
        return bytes(data), "limit"
    except ConnectionResetError:
        return bytes(data), "reset"
    except socket.timeout:
        return bytes(data), "timeout"

def listener(port):
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(f"{path}_{port}")
    ls.listen(4)
    ls.settimeout(left())
    return ls

def serve_6000(ls):  # guest -> host: check the pattern, answer its SHA-256
    try:
        c, _ = ls.accept()
    except socket.timeout:
        fact("g2h accept-timeout"); return
    c.settimeout(120)
    t0 = time.monotonic()
    data, how = read_to_eof(c)
    secs = time.monotonic() - t0
    digest = hashlib.sha256(data).hexdigest()
    fact("g2h", len(data), "pattern-ok" if data == pattern(len(data)) else "pattern-bad", how, f"{secs:.2f}")
    fact("g2h_sha", digest)
    c.sendall((digest + "\n").encode())
    c.close()

def serve_6002(ls):  # guest -> host: close after 64 KiB of a longer stream
    try:
        c, _ = ls.accept()
    except socket.timeout:
        fact("g2h_close accept-timeout"); return
    c.settimeout(60)
    data, how = read_to_eof(c, 64 << 10)
    c.close()
    fact("g2h_close read", len(data), how)

def readline(s):
    """The answer line, a byte at a time (what follows is the guest's data)."""
    line = b""
    try:
        while not line.endswith(b"\n") and len(line) < 64:
            b = s.recv(1)
            if not b:
                return line, "eof"
            line += b
        return line, "line"
    except ConnectionResetError:
        return line, "reset"
    except socket.timeout:
        return line, "timeout"

ok_lines = []

def connect(port, first=b"", retry=True):
    """CONNECT <port> until a guest listener answers OK (closed meanwhile: retry)."""
    attempts, last = 0, None
    while time.monotonic() < deadline:
        attempts += 1
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(15)
        try:
            s.connect(path)
            s.sendall(b"CONNECT %d\n" % port + first)
            line, how = readline(s)
        except (ConnectionRefusedError, FileNotFoundError, BrokenPipeError, ConnectionResetError) as e:
            line, how = b"", type(e).__name__
        last = (line, how)
        if how == "line" and line.startswith(b"OK "):
            ok_lines.append(line.decode(errors="replace").rstrip("\n"))
            return s, line, attempts
        s.close()
        if how == "line" or not retry:  # a wrong answer is not a guest still booting
            break
        time.sleep(1)
    fact(f"connect{port}", "failed", attempts, repr(last))
    return None, None, attempts

t6000 = threading.Thread(target=serve_6000, args=(listener(6000),), daemon=True)
t6002 = threading.Thread(target=serve_6002, args=(listener(6002),), daemon=True)
t6000.start(); t6002.start()
fact("listening")

# ember makes PATH as it starts
while not os.path.exists(path) and time.monotonic() < deadline:
    time.sleep(0.1)

# The guest connects to PATH_6000 first: no CONNECT is pending before that, so
# the warm start's snapshot at the guest's HELLO is not refused for it.
t6000.join(left())

# 1. host -> guest: 16 MiB through the echo server, the first 64 KiB in the CONNECT write
data = open(big, "rb").read()
first = data[:64 << 10]
s, line, attempts = connect(5000, first)
if s:
    fact("echo_ok", line.decode().rstrip("\n"), attempts)
    t0 = time.monotonic()
    def send_rest():  # not sendall(): its timeout bounds the whole call, not each wait
        try:
            rest, off = memoryview(data), len(first)
            while off < len(data):
                off += s.send(rest[off:off + (1 << 18)])
            s.shutdown(socket.SHUT_WR)
        except OSError as e:
            fact("echo_send_error", type(e).__name__)
    s.settimeout(60)  # per wait: a stall, not a slow guest
    ts = threading.Thread(target=send_rest, daemon=True)
    ts.start()
    back, how = read_to_eof(s)
    secs = time.monotonic() - t0
    ts.join(5)
    s.close()
    fact("echo", len(back), hashlib.sha256(back).hexdigest(), how, f"{secs:.2f}")

# 5. garbage instead of CONNECT: closed (the one without a newline after the line timeout)
garbage = [("not-connect", b"HELLO 5001\n"), ("not-a-number", b"CONNECT 50x1\n"),
           ("port-over-32-bits", b"CONNECT 4294967296\n"), ("no-port", b"CONNECT \n"),
           ("line-too-long", b"CONNECT " + b"0" * 40 + b"5001\n"), ("no-newline", b"CONNECT 5001")]
for name, junk in garbage:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    t0 = time.monotonic()
    try:
        s.connect(path)
        s.sendall(junk)
        got, how = read_to_eof(s)
    except OSError as e:
        got, how = b"", type(e).__name__
    fact("garbage", name, how, f"{time.monotonic() - t0:.2f}", repr(got[:40]))
    s.close()

# 4. (host side) a guest port nobody listens on: closed without OK, promptly
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(20)
t0 = time.monotonic()
s.connect(path)
s.sendall(b"CONNECT 5999\n")
line, how = readline(s)
fact("nolistener", how, f"{time.monotonic() - t0:.2f}", repr(line))
s.close()

# 3. the host closes mid-stream: send without reading until the guest stalls, then close
s, line, attempts = connect(5001)
if s:
    fact("midclose_ok", line.decode().rstrip("\n"), attempts)
    s.setblocking(False)
    chunk, sent, last = pattern(64 << 10), 0, time.monotonic()
    while time.monotonic() - last < 3 and sent < (64 << 20):
        _, w, _ = select.select([], [s], [], 0.5)
        if w:
            try:
                sent += s.send(chunk)
                last = time.monotonic()
            except BlockingIOError:
                pass
    s.close()
    fact("midclose sent", sent)

# 3. the guest closes: its line, then end of file
s, line, attempts = connect(5002)
if s:
    fact("hello_ok", line.decode().rstrip("\n"), attempts)
    s.settimeout(30)
    got, how = read_to_eof(s)
    fact("hello", how, repr(got))
    s.close()

t6002.join(left())
fact("ok_lines", *ok_lines)
fact("done")
EOF

python3 "$out/host.py" "$sock" "$out/big" "$BOOT_TIMEOUT" >"$out/host.out" 2>"$out/host.err" &
host=$!
for _ in $(seq 1 50); do grep -q listening "$out/host.out" 2>/dev/null && break; sleep 0.1; done
start=$(date +%s.%N)
# The guest: first its clients (the host retries its CONNECTs meanwhile), then
# its listeners; it exits when the host has been served by all of them.
timeout -k 5 "$BOOT_TIMEOUT" "$EMBER" run --kernel "$KERNEL" --initrd "$INITRD" \
	--share "$out/bin:/t:ro" --vsock "$sock" -- sh -c '
	P=/t/vsock_peer
	$P send 6000 1048576; echo "rc send 6000 $?"
	$P send 6002 8388608; echo "rc send 6002 $?"
	$P send 6001 16; echo "rc send 6001 $?"
	$P echo 5001 & e1=$!
	$P hello 5002 & h=$!
	$P echo 5000 & e0=$!
	wait $e0; echo "rc echo 5000 $?"
	wait $e1; echo "rc echo 5001 $?"
	wait $h; echo "rc hello 5002 $?"' >"$out/guest.out" 2>"$out/ember.err" </dev/null
rc=$?
printf '# boot: exit %s after %.1f s\n' "$rc" "$(echo "$(date +%s.%N) - $start" | bc)"
sock_after=$([ -e "$sock" ] && echo present || echo gone)
timeout 30 tail --pid=$host -f /dev/null
kill $host 2>/dev/null
wait $host
g=$(cat "$out/guest.out")
h=$(cat "$out/host.out")
echo "$g" | sed 's/^/# guest: /'
echo "$h" | grep -v '^g2h_sha\|^listening' | sed 's/^/# host: /'
why="rc $rc; ember: $(tail -3 "$out/ember.err"); host: $(tail -2 "$out/host.err")"
fact() { echo "$h" | grep "^$1 " | head -1; } # fact KEY: the host's line for KEY

# 1. host -> guest
check "host -> guest: CONNECT 5000 (first data in the same write) is answered 'OK <port>'" \
	$(fact echo_ok | grep -qE '^echo_ok OK [0-9]+ [0-9]+$'; echo $?) "$(fact echo_ok; fact connect5000); $why"
e=$(fact echo)
check "host -> guest: 16 MiB of random bytes come back intact from the guest's echo server, then end of file" \
	$([ "$(echo "$e" | cut -d' ' -f2-4)" = "16777216 $big_sum eof" ]; echo $?) "host got '$e' (want 16777216 $big_sum eof); $why"
check "... and the guest's echo server read its end of file after all 16 MiB" \
	$(echo "$g" | grep -qx 'echo 5000: echoed 16777216 bytes' && echo "$g" | grep -qx 'rc echo 5000 0'; echo $?) "$g"
secs=$(echo "$e" | cut -d' ' -f5)
echo "# 16 MiB host -> guest -> host (echo) took ${secs:-?} s"

# 2. guest -> host
check "guest -> host: the listener at PATH_6000 gets 1 MiB of the guest's pattern, then end of file" \
	$(fact g2h | grep -qE '^g2h 1048576 pattern-ok eof '; echo $?) "host: '$(fact g2h)'; guest: $(echo "$g" | grep '6000'); $why"
sum=$(fact g2h_sha | cut -d' ' -f2)
want=$(python3 -c 'import hashlib; print(hashlib.sha256((bytes(range(251)) * 4200)[:1 << 20]).hexdigest())')
check "guest -> host: the guest reads the listener's reply (the data's SHA-256)" \
	$([ "$sum" = "$want" ] && echo "$g" | grep -qx "send 6000: reply $want" && echo "$g" | grep -qx 'rc send 6000 0'; echo $?) \
	"want $want, host computed '$sum'; guest: $(echo "$g" | grep 6000)"
echo "# 1 MiB guest -> host: $(echo "$g" | sed -n 's/^send 6000: sent 1048576 bytes in \(.*\)/\1/p')"

# 3. closing
check "closing: the host closes mid-stream on a guest connection (6002): the guest's send fails EPIPE/ECONNRESET, exit 0" \
	$(fact g2h_close | grep -qE '^g2h_close read 65536 limit$' &&
		echo "$g" | grep -qE '^send 6002: peer closed after [0-9]+ bytes \((EPIPE|ECONNRESET)\)$' &&
		echo "$g" | grep -qx 'rc send 6002 0'; echo $?) "host: '$(fact g2h_close)'; guest: $(echo "$g" | grep 6002)"
n=$(echo "$g" | sed -nE 's/^echo 5001: (peer closed after|echoed) ([0-9]+) bytes.*/\2/p')
sent=$(fact midclose | cut -d' ' -f3)
check "closing: the host closes mid-stream on a host connection (5001): the guest sees it and exits 0" \
	$([ -n "$n" ] && [ -n "$sent" ] && [ "$n" -gt 0 ] && [ "$n" -le "$sent" ] && echo "$g" | grep -qx 'rc echo 5001 0'; echo $?) \
	"host sent '${sent}'; guest: $(echo "$g" | grep 5001); $(fact midclose_ok; fact connect5001)"
check "closing: the guest closes (5002): the host reads its line, then end of file" \
	$([ "$(fact hello)" = "hello eof b'hello from the guest\\n'" ] && echo "$g" | grep -qx 'rc hello 5002 0'; echo $?) \
	"host: '$(fact hello)' $(fact connect5002); guest: $(echo "$g" | grep 5002)"

# 4. nothing listening
ms=$(echo "$g" | sed -nE 's/^send 6001: connect failed: (ECONNRESET|ECONNREFUSED) after ([0-9]+) ms$/\2/p')
check "a guest connect to CID 2 port 6001 (no PATH_6001) fails at once (ECONNRESET/ECONNREFUSED, < 3 s)" \
	$([ -n "$ms" ] && [ "$ms" -lt 3000 ]; echo $?) "guest: $(echo "$g" | grep 6001)"
nl=$(fact nolistener)
check "a CONNECT to a guest port nobody listens on (5999) is closed without OK (< 3 s)" \
	$(echo "$nl" | awk '{ exit !(($2 == "eof" || $2 == "reset") && $3 < 3 && $4 == "b'"''"'") }'; echo $?) "host: '$nl'"

# 5. garbage, and the VM goes on
for name in not-connect not-a-number port-over-32-bits no-port line-too-long no-newline; do
	l=$(echo "$h" | grep "^garbage $name ")
	limit=3
	[ $name = no-newline ] && limit=10 # closed by the line timeout (5 s)
	check "garbage on PATH ($name) is closed, nothing answered" \
		$(echo "$l" | awk -v lim=$limit '{ exit !(($3 == "eof" || $3 == "reset") && $4 < lim && $5 == "b'"''"'") }'; echo $?) "host: '$l'"
done
check "... and the VM goes on serving: CONNECT 5001 and 5002 answered OK after the garbage" \
	$(fact midclose_ok | grep -q OK && fact hello_ok | grep -q OK; echo $?) "$(fact midclose_ok; fact hello_ok); $why"
ports=$(fact ok_lines | tr ' ' '\n' | grep -E '^[0-9]+$')
check "each 'OK <port>' names another host port" \
	$([ "$(echo "$ports" | wc -l)" = 3 ] && [ "$(echo "$ports" | sort -u | wc -l)" = 3 ]; echo $?) "$(fact ok_lines)"

# 6. the end
check "ember exits with the guest command's status (0)" $([ "$rc" = 0 ]; echo $?) "$why"
check "PATH is removed when ember exits" $([ "$sock_after" = gone ]; echo $?) "$(ls -l "$out/s")"
finish
