#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Runs a command on a fresh pseudo-terminal, as a user's terminal would.

  pty_run.py --out FILE [--size ROWS COLS] [--when MARKER --resize ROWS COLS]
             [--when MARKER --type TEXT] [--timeout SECS] -- COMMAND...

Everything the command writes to the terminal goes to FILE.  Each --when
MARKER action fires once, the first time MARKER has appeared in the output:
--resize sets the terminal's size (the kernel then sends SIGWINCH to the
command, as a terminal emulator's resize does); --type writes TEXT as if
typed.  Exits with the command's exit status (128+N for signal N), or 124
when --timeout expired (the command is then killed).
"""
import argparse
import fcntl
import os
import pty
import select
import signal
import struct
import sys
import termios
import time


def set_size(fd, rows, cols):
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", nargs=2, type=int, default=[24, 80])
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--when", action="append", default=[])
    ap.add_argument("--resize", nargs=2, type=int, action="append", default=[])
    ap.add_argument("--type", action="append", default=[])
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    # --when pairs with the next --resize or --type, in command-line order.
    actions = []
    argv = sys.argv
    resizes, types = iter(a.resize), iter(a.type)
    pending = None
    for i, word in enumerate(argv):
        if word == "--when":
            pending = argv[i + 1]
        elif word == "--resize" and pending is not None:
            actions.append((pending, "resize", next(resizes)))
            pending = None
        elif word == "--type" and pending is not None:
            actions.append((pending, "type", next(types)))
            pending = None

    pid, master = pty.fork()
    if pid == 0:
        os.execvp(cmd[0], cmd)
    set_size(master, *a.size)
    out = bytearray()
    deadline = time.monotonic() + a.timeout
    status = None
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            status = 124
            break
        r, _, _ = select.select([master], [], [], min(left, 0.2))
        if r:
            try:
                chunk = os.read(master, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                _, st = os.waitpid(pid, 0)
                status = os.waitstatus_to_exitcode(st)
                break
            out += chunk
            for act in list(actions):
                marker, kind, arg = act
                if marker.encode() in out:
                    actions.remove(act)
                    if kind == "resize":
                        set_size(master, *arg)
                    else:
                        os.write(master, arg.encode())
    with open(a.out, "wb") as f:
        f.write(out)
    sys.exit(128 - status if status < 0 else status)


if __name__ == "__main__":
    main()
