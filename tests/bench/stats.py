#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""Figures and tables of `make bench` (scripts/bench.sh).

The shell sections (scripts/bench/*.sh) only launch the VMMs and write raw
samples into the scratch directory; every figure made from them (median,
min, ratio, difference, percentage, per-MiB cost, human-readable size) and
every table is made here.  Standard library only.  A figure that cannot be
made prints "n/a"; this program never fails on missing or odd samples.

    stats.py tiny DIR                 tiny-guest times and memory
    stats.py size --ember-bytes N ... binary sizes
    stats.py linux --line L ...       one Linux boot
    stats.py blk DIR --mib-4k N ...   block I/O
    stats.py run DIR                  one-shot run
    stats.py stdio DIR --mib N ...    stdio stream throughput
    stats.py net DIR --mib N ...      guest <-> host TCP throughput

What each section writes into DIR is described at its report_* function.
"""

import argparse
import math
import os
import re
import statistics
import sys

NA = "n/a"
TINY_CONFIGS = ("ember16", "ember256", "qemu16", "qemu256")
BLK_PHASES = (
    ("w4k", "write, 4 KiB blocks"),
    ("r4k", "read, 4 KiB blocks"),
    ("w64k", "write, 64 KiB blocks"),
    ("r64k", "read, 64 KiB blocks"),
)
STDIO_PHASES = (
    ("h2g", "host -> guest (stdin)"),
    ("g2h", "guest -> host (stdout)"),
)
STDIO_CLASSES = ("vcpu", "ports", "main", "other")
NET_KINDS = (("auto", "auto (tap)"), ("user", "user (passt)"))
NET_PHASES = (
    ("dl", "host -> guest"),
    ("ul", "guest -> host"),
)
# ember's thread classes in net.sh's snapshots; "rest" is every other one.
NET_CLASSES = ("net", "vcpu", "main")

_NUMBER = re.compile(r"[0-9]+(\.[0-9]*)?|\.[0-9]+")
_INTEGER = re.compile(r"[0-9]+")


# ---- values ------------------------------------------------------------------


def number(x):
    """x as a float if it is a finite non-negative number or the text of one
    (digits and at most one point), else None ("n/a", "", "na", None...)."""
    if x is None or isinstance(x, bool):
        return None
    if isinstance(x, (int, float)):
        return float(x) if math.isfinite(x) and x >= 0 else None
    x = str(x).strip()
    return float(x) if _NUMBER.fullmatch(x) else None


def integer(x):
    """x as an int if it is a non-negative integer or its digits, else None."""
    if isinstance(x, bool):
        return None
    if isinstance(x, int):
        return x if x >= 0 else None
    x = "" if x is None else str(x).strip()
    return int(x) if _INTEGER.fullmatch(x) else None


def shown(x):
    """A value as printed: "n/a" for nothing (None, "", firstbyte's "na")."""
    return NA if x is None or str(x) in ("", "na") else str(x)


def median(values):
    """The median (mean of the two middle values for an even count), or None."""
    return statistics.median(values) if values else None


def summ(values, what="median"):
    """median or min of values, printed %.1f; "n/a" if there are none."""
    if not values:
        return NA
    return "%.1f" % (min(values) if what == "min" else median(values))


def pair(values):
    """ "median / min" of values, "n/a" if there are none."""
    return NA if not values else "%s / %s" % (summ(values), summ(values, "min"))


def ratio(a, b):
    """a/b with 2 decimals; "n/a" unless both are numbers and b > 0."""
    a, b = number(a), number(b)
    if a is None or b is None or b <= 0:
        return NA
    return "%.2f" % (a / b)


def sub(a, b):
    """a-b; "n/a" unless both are integers."""
    a, b = integer(a), integer(b)
    return NA if a is None or b is None else str(a - b)


def human(n):
    """A size in bytes as "1.2 MiB" (from 1 MiB on) or "64 KiB"; "n/a" if
    n is not an integer."""
    n = integer(n)
    if n is None:
        return NA
    if n >= 1 << 20:
        return "%.1f MiB" % (n / (1 << 20))
    return "%.0f KiB" % (n / 1024)


def percent_of(x, total):
    """ "X (P%)": x and its share of total (0% if total is not > 0)."""
    if x is None:
        return NA
    p = 100 * x / total if total and total > 0 else 0
    return "%d (%.1f%%)" % (x, p)


def fields(line):
    """firstbyte's "key=value key=value ..." line as a dict."""
    out = {}
    for word in (line or "").split():
        key, eq, value = word.partition("=")
        if eq:
            out.setdefault(key, value)
    return out


# ---- files -------------------------------------------------------------------


def read_text(path):
    """The file's text as it is ("\\r" too), "" if it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace", newline="") as f:
            return f.read()
    except OSError:
        return ""


def text_lines(text):
    """text's lines, split at "\\n" only (as wc -l and tail -n count them)."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def samples(path):
    """The numbers in path, one per line (other lines are skipped)."""
    out = []
    for line in text_lines(read_text(path)):
        x = number(line)
        if x is not None:
            out.append(x)
    return out


def count_lines(path):
    return len(text_lines(read_text(path)))


def note_text(path):
    """A reason file's text without its trailing newlines, None if empty."""
    text = read_text(path)
    return text.rstrip("\n") if text else None


# ---- table rows ----------------------------------------------------------------


def row(label, a, b, c=""):
    """A row of the times, block I/O and one-shot tables."""
    return "  %-32s %-18s %-18s %s" % (label, a, b, c)


def mrow(label, *cols):
    """A row of the memory table (four configurations)."""
    return "  %-42s %-10s %-10s %-10s %s" % ((label,) + cols)


def ok_of_total(ok, bad, empty="0/0"):
    return empty if ok + bad == 0 else "%d/%d" % (ok, ok + bad)


def notes(d, prefix):
    """Why a VMM's figures of section prefix (blk, run) are missing."""
    out = []
    why = note_text(os.path.join(d, prefix + ".ember.why"))
    if why is not None:
        out.append("  note: ember: " + why)
    why = note_text(os.path.join(d, prefix + ".qemu.why"))
    if why is not None:
        out.append("  QEMU microvm: " + why)
    return out


# ---- tiny guest ----------------------------------------------------------------


def report_tiny(d):
    """Times and memory of the tiny guest, from DIR/CONFIG.* for each of
    ember16 ember256 qemu16 qemu256:
        .first .exit .rss  one sample per successful timed run: ms from exec
                           to the first serial byte, ms to exit, ru_maxrss KiB
        .fail              one line per failed timed run
        .why               why the first run failed
        .traced            firstbyte -m's line (hwm_kib= guest_kib=) of the
                           traced run, if it succeeded
    and DIR/prexec: the helper's RSS before exec (KiB), one per run."""
    def p(name):
        return os.path.join(d, name)

    out = []
    for mem in (16, 256):
        e, q = "ember%d" % mem, "qemu%d" % mem
        out.append("Times, ms (median / min) -- guest RAM %d MiB" % mem)
        out.append(row("", "ember", "QEMU microvm", "ember/QEMU (median)"))
        for label, ext in (("exec -> first serial byte", "first"), ("exec -> process exit", "exit")):
            es, qs = samples(p(e + "." + ext)), samples(p(q + "." + ext))
            out.append(row(label, pair(es), pair(qs), ratio(summ(es), summ(qs))))
        out.append(row("successful runs",
                       ok_of_total(count_lines(p(e + ".exit")), count_lines(p(e + ".fail"))),
                       ok_of_total(count_lines(p(q + ".exit")), count_lines(p(q + ".fail"))), ""))
        for c in (e, q):
            why = note_text(p(c + ".why"))
            if why is not None:
                out.append("  note: %s: a run failed: %s" % (c, why))
        out.append("")

    traced = {c: fields(read_text(p(c + ".traced"))) for c in TINY_CONFIGS}
    hwm = [traced[c].get("hwm_kib") for c in TINY_CONFIGS]
    guest = [traced[c].get("guest_kib") for c in TINY_CONFIGS]
    # ru_maxrss is in whole KiB: print a whole median without ".0".
    rss = [re.sub(r"\.0$", "", summ(samples(p(c + ".rss")))) for c in TINY_CONFIGS]
    prexec = [line for line in read_text(p("prexec")).split() if number(line) is not None]
    floor = max(prexec, key=float) if prexec else NA

    out.append("Memory, KiB")
    out.append(mrow("", "ember 16M", "ember 256M", "QEMU 16M", "QEMU 256M"))
    out.append(mrow("peak RSS, ru_maxrss (median of timed runs) *", *rss))
    out.append(mrow("peak RSS, VmHWM (traced run)", *map(shown, hwm)))
    out.append(mrow("guest RAM resident (traced run)", *map(shown, guest)))
    out.append(mrow("VMM overhead = VmHWM - guest RAM resident", *map(sub, hwm, guest)))
    out += [
        "  * ru_maxrss comes from the kernel's per-CPU RSS counters and may read a little low; it is",
        "    also at least the forked helper's RSS just before exec (at most %s KiB in these runs)." % floor,
        "    VmHWM and guest RAM resident: /proc/PID/status and /proc/PID/smaps, sampled under ptrace",
        "    just before the guest RAM mapping is unmapped or the process exits (tests/bench/firstbyte.c).",
        "    Guest RAM resident = Rss of the guest RAM mapping: pages the VMM wrote while loading and",
        "    setting up the guest, pages the guest touched, and huge pages (QEMU asks for THP).",
        "",
    ]
    return out


# ---- binary size ---------------------------------------------------------------


def report_size(a):
    """Binary sizes, from the byte counts on the command line (a) and
    a.libs: a file with the size of every library ldd resolves for QEMU,
    one a line."""
    out = ["Binary size"]
    if a.ember_bytes is None:
        out.append("  %-8s n/a" % "ember")
    else:
        out.append("  %-8s %s (%s bytes; stripped %s), %s" % (
            "ember", human(a.ember_bytes), a.ember_bytes, human(a.ember_stripped_bytes), a.ember_link))
    if a.qemu_bytes is None:
        out.append("  %-8s n/a (%s not found)" % ("QEMU", a.qemu))
    else:
        libs = [integer(x) for x in read_text(a.libs).split()] if a.libs else []
        libs = [x for x in libs if x is not None]
        qsz, fsz = integer(a.qemu_bytes) or 0, integer(a.firmware_bytes) or 0
        total = qsz + sum(libs) + fsz
        out.append("  %-8s %s = %s %s + %d shared libraries (sum of ldd-resolved files) %s + firmware %s %s" % (
            "QEMU", human(total), os.path.basename(a.qemu), human(qsz), len(libs), human(sum(libs)),
            a.firmware, human(fsz)))
        out.append("  %-8s %s (stripped ember / QEMU total)" % ("ratio", ratio(a.ember_stripped_bytes, total)))
    out.append("")
    return out


# ---- Linux boot ----------------------------------------------------------------


def report_linux(line, stderr_path, timeout):
    """One `ember run --boot-timer -- true`: firstbyte's line and the path of
    ember's stderr (with the boot timer's "boot took N ms")."""
    f = fields(line)
    err = read_text(stderr_path)
    m = re.search(r"boot took ([0-9.]+) ms", err)
    boot = m.group(1) + " ms" if m else NA
    wall = number(f.get("exit_ms"))
    status = f.get("status", "")
    killed = " (killed after %ss)" % timeout if f.get("timeout") == "1" else ""
    out = [
        "  %-34s %s" % ("boot-timer (exec -> init starts)", boot),
        "  %-34s %s" % ("exec -> ember exit (wall)", NA if wall is None else "%.1f ms" % wall),
        "  %-34s %s" % ("exit status", shown(status) + killed),
    ]
    if status != "0" and err:
        # tail -n 3 | tr '\n' ' ' | cut -c 1-200
        tail = " ".join(text_lines(err)[-3:]) + (" " if err.endswith("\n") else "")
        out.append("  stderr: " + tail[:200])
    return out


# ---- block I/O -----------------------------------------------------------------


def cpu_ns(kind, values, clk_tck):
    """A thread's CPU time in ns from a snapshot line's tail: "ns N"
    (schedstat's run time) or "ticks UTIME STIME" (stat)."""
    nums = [integer(v) for v in values]
    if not nums or None in nums:
        return None
    if kind == "ns":
        return nums[0]
    if kind == "ticks":
        return sum(nums) * 1000000000 // clk_tck
    return None


def read_snapshots(path, clk_tck):
    """DIR/blk.VMM.snap: "PHASE start|end TID CLASS ns N" or "... ticks U S",
    one line per live VMM thread at each phase marker.  Returns
    {(phase, mark): {tid: (class, ns)}}."""
    snaps = {}
    for line in read_text(path).split("\n"):
        w = line.split()
        if len(w) < 6:
            continue
        ns = cpu_ns(w[4], w[5:], clk_tck)
        if ns is not None:
            snaps.setdefault((w[0], w[1]), {})[w[2]] = (w[3], ns)
    return snaps


def class_delta_ns(start, end, cls):
    """CPU ns that threads of class cls used between two snapshots: a thread
    new in end counts from 0; one that exited in between is lost."""
    return sum(ns - start.get(tid, (None, 0))[1] for tid, (c, ns) in end.items() if c == cls)


def blk_phases(d, vmm, mib, clk_tck):
    """{phase: (MiB/s text, I/O CPU ms per MiB text)} of one VMM, from
    DIR/blk.VMM.phases ("PHASE T0 T1": the guest's uptime around dd, once
    dd succeeded) and the snapshots."""
    snaps = read_snapshots(os.path.join(d, "blk.%s.snap" % vmm), clk_tck)
    out = {}
    for line in read_text(os.path.join(d, "blk.%s.phases" % vmm)).split("\n"):
        w = line.split()
        if len(w) < 3 or w[0] not in mib or w[0] in out:
            continue
        name, t0, t1 = w[0], number(w[1]), number(w[2])
        mibs = NA
        if t0 is not None and t1 is not None and t1 - t0 > 0:
            mibs = "%.2f" % (mib[name] / (t1 - t0))
        # No thread in a snapshot (the VMM already gone) counts as 0 ns.
        io_ns = class_delta_ns(snaps.get((name, "start"), {}), snaps.get((name, "end"), {}), "io")
        out[name] = (mibs, "%.3f" % (io_ns / 1e6 / mib[name]))
    return out


def blk_split_ms(path, clk_tck):
    """DIR/blk.VMM.split, taken when the guest script ended: "total U S"
    (/proc/PID/stat: every thread, exited ones too) then "CLASS U S" per
    live thread, in clock ticks.  Returns {vcpu, io, main, rest, total: ms}
    or None; rest = total - vcpu - io - main (other and exited threads)."""
    ticks = {"vcpu": 0, "io": 0, "main": 0, "other": 0}
    total = None
    for line in read_text(path).split("\n"):
        w = line.split()
        if len(w) != 3 or integer(w[1]) is None or integer(w[2]) is None:
            continue
        t = integer(w[1]) + integer(w[2])
        if w[0] == "total":
            total = t
        elif w[0] in ticks:
            ticks[w[0]] += t
    if total is None:
        return None
    ms = {k: v * 1000 // clk_tck for k, v in ticks.items()}
    ms["total"] = total * 1000 // clk_tck
    ms["rest"] = max(0, ms["total"] - ms["vcpu"] - ms["io"] - ms["main"])
    return ms


def report_blk(d, mib_4k, mib_64k, clk_tck):
    """The block I/O tables and notes (see blk_phases, blk_split_ms; the
    reasons are in DIR/blk.VMM.why)."""
    mib = {"w4k": mib_4k, "r4k": mib_4k, "w64k": mib_64k, "r64k": mib_64k}
    figs = {v: blk_phases(d, v, mib, clk_tck) for v in ("ember", "qemu")}

    def fig(vmm, phase, i):
        return figs[vmm].get(phase, (NA, NA))[i]

    out = [""]
    for title, i, last in (("guest throughput, MiB/s", 0, "ember/QEMU"),
                           ("I/O thread CPU, ms per MiB", 1, "ember/QEMU (target <= 0.50)")):
        out.append(row(title, "ember", "QEMU microvm", last))
        for p, label in BLK_PHASES:
            e, q = fig("ember", p, i), fig("qemu", p, i)
            out.append(row("  " + label, e, q, ratio(e, q)))
        out.append("")

    ms = {v: blk_split_ms(os.path.join(d, "blk.%s.split" % v), clk_tck) or {} for v in ("ember", "qemu")}

    def part(vmm, key):
        return percent_of(ms[vmm].get(key), ms[vmm].get("total"))

    out += [
        row("process CPU, boot + I/O, ms", "ember", "QEMU microvm", "ember/QEMU"),
        row("  vCPU threads", part("ember", "vcpu"), part("qemu", "vcpu"),
            ratio(ms["ember"].get("vcpu"), ms["qemu"].get("vcpu"))),
        row("  I/O thread(s)", part("ember", "io"), part("qemu", "io"),
            ratio(ms["ember"].get("io"), ms["qemu"].get("io"))),
        row("  main thread", part("ember", "main"), "(in I/O)" if ms["qemu"] else NA, ""),
        row("  rest (other, exited threads)", part("ember", "rest"), part("qemu", "rest"), ""),
        row("  total", shown(ms["ember"].get("total")), shown(ms["qemu"].get("total")),
            ratio(ms["ember"].get("total"), ms["qemu"].get("total"))),
        "  (utime+stime in clock ticks of 1/%d s from /proc, taken when the guest script ends;" % clk_tck,
        "   ember's vCPU threads include its user-space handling of guest exits on kvm_pvm)",
    ]
    return out + notes(d, "blk") + [""]


# ---- one-shot run --------------------------------------------------------------


def report_run(d):
    """The one-shot table, from DIR/run.VMM.{wall,user,sys}: ms per
    successful run (the same line of each file is the same run),
    DIR/run.VMM.fail (a line per failed run) and DIR/run.VMM.why."""
    def p(name):
        return os.path.join(d, name)

    s = {}
    for v in ("ember", "qemu"):
        for k in ("wall", "user", "sys"):
            s[v, k] = samples(p("run.%s.%s" % (v, k)))
        s[v, "cpu"] = [u + t for u, t in zip(s[v, "user"], s[v, "sys"])]

    def med(vmm, key):
        return summ(s[vmm, key])

    out = ["", row("ms, median", "ember", "QEMU microvm", "ember/QEMU")]
    out.append(row("exec -> exit (wall)", med("ember", "wall"), med("qemu", "wall"),
                   ratio(med("ember", "wall"), med("qemu", "wall"))))
    out.append(row("host CPU, user + sys", med("ember", "cpu"), med("qemu", "cpu"),
                   ratio(med("ember", "cpu"), med("qemu", "cpu"))))
    out.append(row("  user", med("ember", "user"), med("qemu", "user"), ""))
    out.append(row("  sys", med("ember", "sys"), med("qemu", "sys"), ""))
    out.append(row("successful runs",
                   *[ok_of_total(count_lines(p("run.%s.wall" % v)), count_lines(p("run.%s.fail" % v)), "-")
                     for v in ("ember", "qemu")], ""))
    out += [
        "  (CPU: ru_utime + ru_stime of the VMM process from wait4, all threads; on kvm_pvm the",
        "   guest's interpreted ring-0 code is system time of the vCPU threads)",
    ]
    return out + notes(d, "run") + [""]


# ---- warm start ----------------------------------------------------------------


def report_warm(d):
    """The warm-start table, from DIR/warm.KIND.{wall,user,sys} (KIND cold,
    first, warm), DIR/warm.saved ("ms MiB" per saving run), DIR/warm.restored
    (ms per warm run), DIR/warm.size ("RAM apparent disk" per guest size) and
    DIR/warm.format ("sparse|lz4 disk_bytes restore_ms" per restore)."""
    def p(name):
        return os.path.join(d, name)

    kinds = ("cold", "first", "warm")
    s = {}
    for k in kinds:
        for f in ("wall", "user", "sys"):
            s[k, f] = samples(p("warm.%s.%s" % (k, f)))
        s[k, "cpu"] = [u + t for u, t in zip(s[k, "user"], s[k, "sys"])]

    def med(kind, f):
        return summ(s[kind, f])

    out = ["", row("ms, median", "cold", "first run", "warm")]
    out.append(row("exec -> exit (wall)", *[med(k, "wall") for k in kinds]))
    out.append(row("host CPU, user + sys", *[med(k, "cpu") for k in kinds]))
    out.append(row("successful runs",
                    *[ok_of_total(count_lines(p("warm.%s.wall" % k)), count_lines(p("warm.%s.fail" % k)), "-")
                      for k in kinds]))
    out.append(row("warm / cold (wall)", "", "", ratio(med("warm", "wall"), med("cold", "wall"))))
    first, cold = number(med("first", "wall")), number(med("cold", "wall"))
    out.append(row("first run - cold (wall)", "",
                   NA if first is None or cold is None else "%.1f" % (first - cold), ""))
    saved = [line.split() for line in text_lines(read_text(p("warm.saved")))]
    restored = samples(p("warm.restored"))
    out.append(row("saving the booted guest", "", summ([number(x[0]) for x in saved if x]), ""))
    out.append(row("restore alone (-> guest runs)", "", "", summ(restored)))
    out += ["  (cold: --cold, a Linux boot; first run: boots, saves the guest at its init's HELLO,",
            "   then runs the command; warm: restores that guest, sends the command.  On kvm_pvm",
            "   the command's own fork and exec run at interpreted ring-0 speed, in every column)"]
    sizes = [line.split() for line in text_lines(read_text(p("warm.size")))]
    if sizes:
        out.append("")
        out.append(row("snapshot memory file", "RAM", "apparent", "on disk"))
        for f in sizes:
            if len(f) == 3:
                out.append(row("", f[0], human(integer(f[1])), human(integer(f[2]))))
    fmts = [line.split() for line in text_lines(read_text(p("warm.format")))]
    if fmts:
        out.append("")
        out.append(row("one running guest's snapshot", "sparse raw", "LZ4", ""))
        disk = {f[0]: integer(f[1]) for f in fmts if len(f) == 3}
        ms = {k: [number(f[2]) for f in fmts if len(f) == 3 and f[0] == k] for k in ("sparse", "lz4")}
        out.append(row("memory on disk", human(disk.get("sparse")) if "sparse" in disk else NA,
                       human(disk.get("lz4")) if "lz4" in disk else NA, ""))
        out.append(row("restore, ms (exec -> guest runs)", summ(ms["sparse"]), summ(ms["lz4"]), ""))
        out.append("  (sparse: mapped copy-on-write, pages read on first touch; LZ4: decompressed")
        out.append("   into RAM in parallel 1 MiB chunks before the guest runs)")
    for k in kinds + ("first1g",):
        why = note_text(p("warm.%s.why" % k))
        if why is not None:
            out.append("  note: %s run: %s" % (k, why))
    out.append("  QEMU microvm: n/a (no snapshot of a booted guest to restore from its command line)")
    return out + [""]


# ---- stdio streams -------------------------------------------------------------


def crow(label, *cols):
    """A row of the stdio CPU table: five figures and the QEMU column."""
    return "  %-32s %-9s %-9s %-9s %-9s %-9s %s" % ((label,) + cols)


def stdio_totals(path, clk_tck):
    """DIR/stdio.VMM.total: "PHASE start|end UTIME STIME" (/proc/PID/stat at
    each marker, clock ticks).  Returns {(phase, mark): ns}."""
    out = {}
    for line in read_text(path).split("\n"):
        w = line.split()
        if len(w) != 4:
            continue
        ns = cpu_ns("ticks", w[2:], clk_tck)
        if ns is not None:
            out.setdefault((w[0], w[1]), ns)
    return out


def stdio_bytes_note(d, mib):
    """None if DIR/stdio.ember.bytes (wc -c of ember's stdout) holds exactly
    mib MiB, else why guest -> host does not count."""
    text = read_text(os.path.join(d, "stdio.ember.bytes")).strip()
    got, want = integer(text), mib << 20
    if got == want:
        return None
    if got is None:
        return "guest -> host: ember's stdout was not counted"
    return "guest -> host: %d bytes arrived on ember's stdout, not %d" % (got, want)


def stdio_figures(d, mib, clk_tck):
    """{phase: {"mibs", "total", CLASS...: text}} of ember, from
    DIR/stdio.ember.phases ("PHASE T0 T1": the guest's uptime around the
    phase, once its guest-side check passed), .total and .snap; g2h only if
    ember's stdout carried exactly mib MiB.  A phase without a pair of
    snapshots has no CPU figures."""
    snaps = read_snapshots(os.path.join(d, "stdio.ember.snap"), clk_tck)
    totals = stdio_totals(os.path.join(d, "stdio.ember.total"), clk_tck)
    names = [p for p, _ in STDIO_PHASES]
    if stdio_bytes_note(d, mib) is not None:
        names.remove("g2h")
    out = {}
    for line in read_text(os.path.join(d, "stdio.ember.phases")).split("\n"):
        w = line.split()
        if len(w) < 3 or w[0] not in names or w[0] in out:
            continue
        name, t0, t1 = w[0], number(w[1]), number(w[2])
        fig = {k: NA for k in ("mibs", "total") + STDIO_CLASSES}
        if t0 is not None and t1 is not None and t1 - t0 > 0:
            fig["mibs"] = "%.2f" % (mib / (t1 - t0))
        a, b = totals.get((name, "start")), totals.get((name, "end"))
        if a is not None and b is not None and b >= a:
            fig["total"] = "%.3f" % ((b - a) / 1e6 / mib)
        start, end = snaps.get((name, "start")), snaps.get((name, "end"))
        if start and end:
            for c in STDIO_CLASSES:
                fig[c] = "%.3f" % (class_delta_ns(start, end, c) / 1e6 / mib)
        out[name] = fig
    return out


def report_stdio(d, mib, clk_tck):
    """The stdio streams tables and notes (see stdio_figures; the reasons
    are in DIR/stdio.VMM.why).  QEMU has no figures: its column says n/a."""
    figs = stdio_figures(d, mib, clk_tck)

    def fig(phase, key):
        return figs.get(phase, {}).get(key, NA)

    out = ["", row("guest throughput, MiB/s (%d MiB)" % mib, "ember", "QEMU microvm", "ember/QEMU")]
    for p, label in STDIO_PHASES:
        out.append(row("  " + label, fig(p, "mibs"), NA, NA))
    out += ["", crow("ember CPU, ms per MiB", "total", "vCPU", "ports", "main", "other", "QEMU microvm")]
    for p, label in STDIO_PHASES:
        out.append(crow("  " + label, *[fig(p, k) for k in ("total",) + STDIO_CLASSES], NA))
    out += [
        "  (host CPU between the phase's markers: total = utime+stime of the whole process from",
        "   /proc/PID/stat, clock ticks of 1/%d s; by thread from /proc/PID/task/*/schedstat;" % clk_tck,
        "   ports = \"ember-ports\", the I/O thread that reads ember's stdin and writes its stdout;",
        "   about 0.6 MiB of stdin is already in the guest when host -> guest starts)",
    ]
    # Only when the guest finished g2h: if it never got there, .why says why.
    why = stdio_bytes_note(d, mib)
    ran = [w[0] for w in map(str.split, text_lines(read_text(os.path.join(d, "stdio.ember.phases")))) if w]
    if why is not None and "g2h" in ran:
        out.append("  note: ember: " + why)
    return out + notes(d, "stdio") + [""]


# ---- network -------------------------------------------------------------------


def nrow(label, *cols):
    """A row of the network CPU table: the label and seven figures."""
    return "  %-22s %-9s %-9s %-9s %-7s %-7s %-7s %s" % ((label,) + cols)


def net_bytes(path):
    """DIR/net.KIND.bytes: "PHASE N" per phase: dl the growth of the guest's
    eth0 rx_bytes (frames, headers included; written only when the host's
    nc sent everything and exited with 0), ul the bytes the host's nc
    received.  Returns {phase: N or None}."""
    out = {}
    for line in text_lines(read_text(path)):
        w = line.split()
        if len(w) == 2:
            out.setdefault(w[0], integer(w[1]))
    return out


def net_arrived(phase, got, mib):
    """Did all of a phase's mib MiB arrive?  dl: at least mib MiB of frames
    (their headers make it more); ul: exactly mib MiB of data."""
    if got is None:
        return False
    return got >= mib << 20 if phase == "dl" else got == mib << 20


def net_bytes_note(d, kind, mib):
    """Why phases of DIR/net.KIND.* the guest finished do not count for
    their byte counts, or None."""
    got = net_bytes(os.path.join(d, "net.%s.bytes" % kind))
    ran = [w[0] for w in map(str.split, text_lines(read_text(os.path.join(d, "net.%s.phases" % kind)))) if w]
    out = []
    for p, label in NET_PHASES:
        if p not in ran:
            if got.get(p) is not None and p == "ul":
                out.append("%s: %d bytes had arrived when it failed" % (label, got[p]))
            continue
        if net_arrived(p, got.get(p), mib):
            continue
        if got.get(p) is None:
            out.append("%s: the bytes that arrived were not counted" % label)
        elif p == "dl":
            out.append("%s: the guest's eth0 received %d bytes, under %d" % (label, got[p], mib << 20))
        else:
            out.append("%s: %d bytes arrived, not %d" % (label, got[p], mib << 20))
    return "; ".join(out) or None


def net_figures(d, kind, mib, clk_tck):
    """{phase: {key: text}} for one --net kind, from DIR/net.KIND.phases
    ("PHASE T0 T1": the guest's uptime around its nc), .bytes (all mib MiB
    must have arrived: net_arrived), .total (ember's /proc/PID/stat at each
    marker) and .snap (per thread: ember's by class, passt's and the host
    nc's).  Keys: mibs; ms per MiB of ember (the whole process), net, vcpu,
    main, rest (ember's other threads), passt, peer (the host's nc); s per
    GiB of ember (gib) and of ember + passt + peer (all_gib); ember's share
    of that sum (share) and its threads' but the vCPUs' (own: net + main +
    rest)."""
    snaps = read_snapshots(os.path.join(d, "net.%s.snap" % kind), clk_tck)
    totals = stdio_totals(os.path.join(d, "net.%s.total" % kind), clk_tck)
    got = net_bytes(os.path.join(d, "net.%s.bytes" % kind))
    keys = ("mibs", "ember", "net", "vcpu", "main", "rest", "passt", "peer", "gib", "all_gib", "share", "own")
    out = {}
    for line in text_lines(read_text(os.path.join(d, "net.%s.phases" % kind))):
        w = line.split()
        if len(w) < 3 or w[0] not in dict(NET_PHASES) or w[0] in out or not net_arrived(w[0], got.get(w[0]), mib):
            continue
        name, t0, t1 = w[0], number(w[1]), number(w[2])
        fig = {k: NA for k in keys}
        if t0 is not None and t1 is not None and t1 - t0 > 0:
            fig["mibs"] = "%.3f" % (mib / (t1 - t0))
        out[name] = fig
        start, end = snaps.get((name, "start")), snaps.get((name, "end"))
        if not start or not end:
            continue
        ns = {c: class_delta_ns(start, end, c) for c in NET_CLASSES + ("passt", "peer")}
        classes = {c for c, _ in end.values()} - set(NET_CLASSES) - {"passt", "peer"}
        ns["rest"] = sum(class_delta_ns(start, end, c) for c in classes)
        for c in ns:
            fig[c] = "%.1f" % (ns[c] / 1e6 / mib)
        if kind != "user":
            fig["passt"] = "-"
        a, b = totals.get((name, "start")), totals.get((name, "end"))
        if a is not None and b is not None and b >= a:
            whole = (b - a) + ns["passt"] + ns["peer"]
            fig["ember"] = "%.1f" % ((b - a) / 1e6 / mib)
            fig["gib"] = "%.1f" % ((b - a) / 1e9 / mib * 1024)
            fig["all_gib"] = "%.1f" % (whole / 1e9 / mib * 1024)
            if whole > 0:
                fig["share"] = "%.1f%%" % (100 * (b - a) / whole)
                fig["own"] = "%.1f%%" % (100 * (ns["net"] + ns["main"] + ns["rest"]) / whole)
    return out


def net_ready(path):
    """DIR/net.KIND.ready: "START FIRST", the host's clock (s) at ember's
    start and at the guest's first marker.  Returns FIRST - START as text,
    "n/a" if missing."""
    w = read_text(path).split()
    a, b = (number(x.replace(",", ".")) for x in (w + ["", ""])[:2])
    return "%.1f" % (b - a) if a is not None and b is not None and b >= a else NA


def report_net(d, mib, clk_tck):
    """The network tables and notes (see net_figures; the reasons are in
    DIR/net.KIND.why)."""
    figs = {k: net_figures(d, k, mib, clk_tck) for k, _ in NET_KINDS}

    def fig(kind, phase, key):
        return figs[kind].get(phase, {}).get(key, NA)

    out = ["", row("guest throughput, MiB/s (%d MiB)" % mib, *[label for _, label in NET_KINDS])]
    for p, label in NET_PHASES:
        out.append(row("  " + label, *[fig(k, p, "mibs") for k, _ in NET_KINDS]))
    out.append(row("ember start -> first phase, s", *[net_ready(os.path.join(d, "net.%s.ready" % k))
                                                      for k, _ in NET_KINDS]))
    out += ["", nrow("host CPU, ms per MiB", "ember", "ember-net", "vCPU", "main", "rest", "passt", "host nc")]
    for k, _ in NET_KINDS:
        for p, label in NET_PHASES:
            out.append(nrow("  %s, %s" % (k, label),
                            *[fig(k, p, key) for key in ("ember", "net", "vcpu", "main", "rest", "passt", "peer")]))
    out += ["", nrow("host CPU per GiB, s", "ember", "all", "ember %", "own %", "", "", "").rstrip()]
    for k, _ in NET_KINDS:
        for p, label in NET_PHASES:
            out.append(nrow("  %s, %s" % (k, label),
                            *[fig(k, p, key) for key in ("gib", "all_gib", "share", "own")], "", "", "").rstrip())
    out += [
        "  (host CPU between the phase's markers: ember = utime+stime of the whole process from",
        "   /proc/PID/stat, clock ticks of 1/%d s; by thread from /proc/PID/task/*/schedstat:" % clk_tck,
        "   ember-net = the virtio-net device thread, vCPU = the guest's own code (and ember's handling",
        "   of its exits), main = the event loop, rest = ember's other threads; passt = the user-mode",
        "   back end's process, host nc = the host end of the connection.  Per GiB: ms per MiB",
        "   extrapolated; all = ember + passt + host nc; ember % = ember's share of all, own % = that",
        "   of ember's threads but its vCPUs (ember-net + main + rest): what ember itself spends)",
    ]
    for k, _ in NET_KINDS:
        if "inferred" in text_lines(read_text(os.path.join(d, "net.%s.threads" % k))):
            out.append("  note: %s: ember's threads had no names (all \"ember\"): ember-net and vCPU told apart"
                       % k)
            out.append("        by creation order (net.sh, net_classes)")
    for k, _ in NET_KINDS:
        why = net_bytes_note(d, k, mib)
        if why is not None:
            out.append("  note: %s: %s" % (k, why))
        why = note_text(os.path.join(d, "net.%s.why" % k))
        if why is not None:
            out.append("  note: %s: %s" % (k, why))
    return out + [""]


# ---- command line --------------------------------------------------------------


def positive(text):
    n = integer(text)
    if not n:
        raise argparse.ArgumentTypeError("not a positive integer: %r" % text)
    return n


def main(argv=None):
    ap = argparse.ArgumentParser(prog="stats.py", description=__doc__.split("\n\n")[0])
    sp = ap.add_subparsers(dest="cmd", required=True)
    t = sp.add_parser("tiny", help="tiny-guest times and memory")
    t.add_argument("dir")
    s = sp.add_parser("size", help="binary sizes")
    s.add_argument("--ember-bytes", help="./ember's size (omit: ember missing)")
    s.add_argument("--ember-stripped-bytes", default=NA)
    s.add_argument("--ember-link", default="")
    s.add_argument("--qemu", required=True, help="QEMU's name or path")
    s.add_argument("--qemu-bytes", help="its size (omit: QEMU not found)")
    s.add_argument("--libs", help="file: sizes of the libraries ldd resolves, one a line")
    s.add_argument("--firmware", default="")
    s.add_argument("--firmware-bytes", default="0")
    li = sp.add_parser("linux", help="one Linux boot")
    li.add_argument("--line", default="", help="firstbyte's output line")
    li.add_argument("--stderr", required=True, help="file: ember's stderr")
    li.add_argument("--timeout", required=True)
    b = sp.add_parser("blk", help="block I/O")
    b.add_argument("dir")
    b.add_argument("--mib-4k", type=positive, required=True)
    b.add_argument("--mib-64k", type=positive, required=True)
    b.add_argument("--clk-tck", type=positive, default=100)
    r = sp.add_parser("run", help="one-shot run")
    r.add_argument("dir")
    w = sp.add_parser("warm", help="warm start")
    w.add_argument("dir")
    st = sp.add_parser("stdio", help="stdio stream throughput")
    st.add_argument("dir")
    st.add_argument("--mib", type=positive, required=True)
    st.add_argument("--clk-tck", type=positive, default=100)
    n = sp.add_parser("net", help="guest <-> host TCP throughput")
    n.add_argument("dir")
    n.add_argument("--mib", type=positive, required=True)
    n.add_argument("--clk-tck", type=positive, default=100)
    a = ap.parse_args(argv)

    if a.cmd == "tiny":
        lines = report_tiny(a.dir)
    elif a.cmd == "size":
        lines = report_size(a)
    elif a.cmd == "linux":
        lines = report_linux(a.line, a.stderr, a.timeout)
    elif a.cmd == "blk":
        lines = report_blk(a.dir, a.mib_4k, a.mib_64k, a.clk_tck)
    elif a.cmd == "stdio":
        lines = report_stdio(a.dir, a.mib, a.clk_tck)
    elif a.cmd == "net":
        lines = report_net(a.dir, a.mib, a.clk_tck)
    elif a.cmd == "warm":
        lines = report_warm(a.dir)
    else:
        lines = report_run(a.dir)
    sys.stdout.write("".join(line + "\n" for line in lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
