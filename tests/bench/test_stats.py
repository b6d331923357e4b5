# SPDX-License-Identifier: GPL-2.0-only
"""Unit tests of tests/bench/stats.py (`make bench-selftest`, part of
`make check`): the figures, and each section's report from samples shaped
like the ones scripts/bench/*.sh write.  No VMM, no KVM; well under 1 s."""

import argparse
import contextlib
import io
import os
import tempfile
import unittest

import stats


class TempDir(unittest.TestCase):
    """A scratch directory like bench.sh's, with a helper to fill it."""

    def setUp(self):
        self._tmp = tempfile.TemporaryDirectory()
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path


class Figures(unittest.TestCase):
    def test_median_odd_and_even_counts(self):
        self.assertEqual(stats.median([3.0, 1.0, 2.0]), 2.0)
        self.assertEqual(stats.median([4.0, 1.0, 3.0, 2.0]), 2.5)
        self.assertEqual(stats.median([7.5]), 7.5)
        self.assertIsNone(stats.median([]))

    def test_summ_median_and_min(self):
        self.assertEqual(stats.summ([26.2, 7.2, 30.0, 8.125, 26.9]), "26.2")
        self.assertEqual(stats.summ([1.0, 2.0, 3.0, 4.0]), "2.5")
        self.assertEqual(stats.summ([26.2, 7.25, 30.0], "min"), "7.2")
        self.assertEqual(stats.summ([], "min"), "n/a")
        self.assertEqual(stats.summ([]), "n/a")

    def test_pair(self):
        self.assertEqual(stats.pair([2.031, 1.512, 2.5]), "2.0 / 1.5")
        self.assertEqual(stats.pair([]), "n/a")

    def test_ratio(self):
        self.assertEqual(stats.ratio("26.2", "52.4"), "0.50")
        self.assertEqual(stats.ratio(1, 3), "0.33")
        self.assertEqual(stats.ratio("1289320", 50634752), "0.03")
        self.assertEqual(stats.ratio("0", "5"), "0.00")

    def test_ratio_zero_or_not_numbers_is_na(self):
        for a, b in (("1.0", "0"), ("1.0", "0.0"), ("1.0", 0), ("n/a", "2.0"), ("2.0", "n/a"),
                     ("", "1"), (None, "1"), ("1", None), ("na", "1"), ("-1", "2"), ("1", "-2"),
                     ("1e3", "1"), ("abc", "1"), (float("nan"), 1)):
            self.assertEqual(stats.ratio(a, b), "n/a", (a, b))

    def test_sub(self):
        self.assertEqual(stats.sub("1464", "52"), "1412")
        self.assertEqual(stats.sub(52, 1464), "-1412")
        for a, b in (("na", "52"), ("1464", ""), (None, "1"), ("14.5", "1"), ("n/a", "n/a")):
            self.assertEqual(stats.sub(a, b), "n/a", (a, b))

    def test_human(self):
        self.assertEqual(stats.human(1289320), "1.2 MiB")
        self.assertEqual(stats.human("1048576"), "1.0 MiB")
        self.assertEqual(stats.human(1048575), "1024 KiB")
        self.assertEqual(stats.human(65536), "64 KiB")
        self.assertEqual(stats.human(1536), "2 KiB")  # %.0f: 1.5 to even
        self.assertEqual(stats.human(0), "0 KiB")
        self.assertEqual(stats.human(50634752), "48.3 MiB")
        for n in ("n/a", "", None, "1.5", "-3", "12 KiB"):
            self.assertEqual(stats.human(n), "n/a", n)

    def test_percent_of(self):
        self.assertEqual(stats.percent_of(250, 1000), "250 (25.0%)")
        self.assertEqual(stats.percent_of(5, 0), "5 (0.0%)")
        self.assertEqual(stats.percent_of(None, 1000), "n/a")

    def test_fields_of_firstbyte_line(self):
        f = stats.fields("first_ms=2.031 exit_ms=26.204 maxrss_kib=1184 prexec_kib=360 "
                         "user_ms=1.000 sys_ms=4.000 status=0")
        self.assertEqual(f["first_ms"], "2.031")
        self.assertEqual(f["status"], "0")
        self.assertEqual(stats.fields(""), {})

    def test_samples_skip_what_is_not_a_number(self):
        d = tempfile.TemporaryDirectory()
        self.addCleanup(d.cleanup)
        path = os.path.join(d.name, "x")
        with open(path, "w") as f:
            f.write("2.5\nna\n\n1.0\n")
        self.assertEqual(stats.samples(path), [2.5, 1.0])
        self.assertEqual(stats.samples(os.path.join(d.name, "missing")), [])
        self.assertEqual(stats.count_lines(path), 4)


class Tiny(TempDir):
    def test_tables(self):
        # 3 timed runs of ember16 (one failed), 2 of ember256, QEMU 16M failed once.
        self.write("ember16.first", "2.031\n1.512\n2.500\n")
        self.write("ember16.exit", "26.204\n7.200\n30.000\n")
        self.write("ember16.rss", "1184\n1180\n1190\n")
        self.write("ember16.fail", "x\n")
        self.write("ember16.why", "status 1: boom\n")
        self.write("ember256.first", "2.0\n3.0\n")
        self.write("ember256.exit", "10.0\n13.0\n")
        self.write("ember256.rss", "1184\n1185\n")
        self.write("qemu16.first", "40.0\n")
        self.write("qemu16.exit", "52.4\n")
        self.write("qemu16.rss", "20000\n")
        self.write("qemu16.fail", "x\n")
        self.write("prexec", "356\n360\n1000\n99\n")
        self.write("ember16.traced", "hwm_kib=1464 guest_kib=52 maxrss_kib=1184 status=0\n")
        self.write("qemu16.traced", "hwm_kib=na guest_kib=2048 maxrss_kib=20000 status=1\n")
        out = stats.report_tiny(self.dir)
        self.assertEqual(out[0], "Times, ms (median / min) -- guest RAM 16 MiB")
        self.assertEqual(out[2], stats.row("exec -> first serial byte", "2.0 / 1.5", "40.0 / 40.0", "0.05"))
        self.assertEqual(out[3], stats.row("exec -> process exit", "26.2 / 7.2", "52.4 / 52.4", "0.50"))
        self.assertEqual(out[4], stats.row("successful runs", "3/4", "1/2", ""))
        self.assertEqual(out[5], "  note: ember16: a run failed: status 1: boom")
        self.assertEqual(out[6], "")
        self.assertEqual(out[9], stats.row("exec -> first serial byte", "2.5 / 2.0", "n/a", "n/a"))
        self.assertEqual(out[11], stats.row("successful runs", "2/2", "0/0", ""))
        mem = out[out.index("Memory, KiB"):]
        self.assertEqual(mem[2], stats.mrow("peak RSS, ru_maxrss (median of timed runs) *",
                                            "1184", "1184.5", "20000", "n/a"))
        self.assertEqual(mem[3], stats.mrow("peak RSS, VmHWM (traced run)", "1464", "n/a", "n/a", "n/a"))
        self.assertEqual(mem[4], stats.mrow("guest RAM resident (traced run)", "52", "n/a", "2048", "n/a"))
        self.assertEqual(mem[5], stats.mrow("VMM overhead = VmHWM - guest RAM resident",
                                            "1412", "n/a", "n/a", "n/a"))
        self.assertIn("(at most 1000 KiB in these runs)", mem[7])
        self.assertEqual(out[-1], "")

    def test_nothing_measured(self):
        out = stats.report_tiny(self.dir)
        self.assertIn(stats.row("exec -> first serial byte", "n/a", "n/a", "n/a"), out)
        self.assertIn(stats.row("successful runs", "0/0", "0/0", ""), out)
        self.assertTrue(any("(at most n/a KiB in these runs)" in line for line in out))


class Size(TempDir):
    def args(self, **kw):
        a = dict(ember_bytes=None, ember_stripped_bytes="n/a", ember_link="", qemu="qemu-system-x86_64",
                 qemu_bytes=None, libs=None, firmware="", firmware_bytes="0")
        a.update(kw)
        return argparse.Namespace(**a)

    def test_both(self):
        libs = self.write("size.libs", "1048576\n2097152\n")
        out = stats.report_size(self.args(
            ember_bytes="1289320", ember_stripped_bytes="1200000", ember_link="static, no shared libraries",
            qemu="/usr/bin/qemu-system-x86_64", qemu_bytes="18350080", libs=libs,
            firmware="qboot.rom", firmware_bytes="65536"))
        self.assertEqual(out, [
            "Binary size",
            "  ember    1.2 MiB (1289320 bytes; stripped 1.1 MiB), static, no shared libraries",
            "  QEMU     20.6 MiB = qemu-system-x86_64 17.5 MiB + 2 shared libraries (sum of ldd-resolved files)"
            " 3.0 MiB + firmware qboot.rom 64 KiB",
            "  ratio    0.06 (stripped ember / QEMU total)",
            "",
        ])

    def test_missing(self):
        out = stats.report_size(self.args(qemu="qemu-x"))
        self.assertEqual(out, ["Binary size", "  ember    n/a", "  QEMU     n/a (qemu-x not found)", ""])

    def test_strip_failed(self):
        out = stats.report_size(self.args(ember_bytes="1000", ember_link="static", qemu="q", qemu_bytes="4096"))
        self.assertEqual(out[1], "  ember    1 KiB (1000 bytes; stripped n/a), static")
        self.assertEqual(out[2], "  QEMU     4 KiB = q 4 KiB + 0 shared libraries (sum of ldd-resolved files) "
                                 "0 KiB + firmware  0 KiB")
        self.assertEqual(out[3], "  ratio    n/a (stripped ember / QEMU total)")


class Linux(TempDir):
    def test_boot(self):
        err = self.write("linux.err", "ember: boot took 1234.5 ms\n")
        out = stats.report_linux("first_ms=9.000 exit_ms=20456.789 maxrss_kib=1 status=0", err, "600")
        self.assertEqual(out, [
            "  boot-timer (exec -> init starts)   1234.5 ms",
            "  exec -> ember exit (wall)          20456.8 ms",
            "  exit status                        0",
        ])

    def test_killed(self):
        err = self.write("linux.err", "a\nb\nc\r\nd\n")
        out = stats.report_linux("first_ms=na exit_ms=600000.100 status=-1 timeout=1", err, "600")
        self.assertEqual(out[0], "  boot-timer (exec -> init starts)   n/a")
        self.assertEqual(out[2], "  exit status                        -1 (killed after 600s)")
        self.assertEqual(out[3], "  stderr: b c\r d ")

    def test_could_not_run(self):
        out = stats.report_linux("", os.path.join(self.dir, "none"), "600")
        self.assertEqual(out[1], "  exec -> ember exit (wall)          n/a")
        self.assertEqual(out[2], "  exit status                        n/a")
        self.assertEqual(len(out), 3)


class Blk(TempDir):
    def test_tables(self):
        # ember: schedstat ns, its blk worker is tid 12; r64k's dd failed.
        # qemu: no schedstat, ticks at 100 Hz, io = its main loop (tid 1) and
        # a worker (tid 2, new in w4k); r4k took no time on the guest clock.
        # 4 MiB at 4 KiB, 16 MiB at 64 KiB.
        self.write("blk.ember.phases", "w4k 10.00 12.00\nr4k 13.00 13.50\nw64k 20.00 24.00\n")
        self.write("blk.ember.snap", "".join([
            "w4k start 10 main ns 5000000\nw4k start 11 vcpu ns 9000000\nw4k start 12 io ns 1000000\n",
            "w4k end 10 main ns 6000000\nw4k end 11 vcpu ns 19000000\nw4k end 12 io ns 3000000\n",
            "r4k start 12 io ns 3000000\nr4k end 12 io ns 4000000\nr4k end 13 io ns 500000\n",
            "w64k start 12 io ns 4000000\nw64k end 12 io ns 8000000\n",
            "r64k start 12 io ns 8000000\n",
        ]))
        self.write("blk.ember.split", "total 300 100\nmain 10 5\nvcpu 200 80\nio 4 1\nother 1 0\n")
        self.write("blk.ember.why", "r64k failed: dd exit 1: I/O error\n")
        self.write("blk.qemu.phases", "w4k 10.0 14.0\nr4k 20.0 20.0\nr64k 30.0 31.0\n")  # r64k: no snapshot
        self.write("blk.qemu.snap", "w4k start 1 io ticks 10 5\nw4k start 3 vcpu ticks 50 50\n"
                                    "w4k end 1 io ticks 12 5\nw4k end 2 io ticks 1 1\nw4k end 3 vcpu ticks 90 60\n"
                                    "r4k start 1 io ticks 12 5\nr4k end 1 io ticks 13 5\n")
        self.write("blk.qemu.split", "total 500 200\nio 30 10\nio 2 2\nvcpu 400 150\nother 1 1\n")
        out = stats.report_blk(self.dir, 4, 16, 100)
        self.assertEqual(out[0], "")
        self.assertEqual(out[1], stats.row("guest throughput, MiB/s", "ember", "QEMU microvm", "ember/QEMU"))
        self.assertEqual(out[2], stats.row("  write, 4 KiB blocks", "2.00", "1.00", "2.00"))
        self.assertEqual(out[3], stats.row("  read, 4 KiB blocks", "8.00", "n/a", "n/a"))
        self.assertEqual(out[4], stats.row("  write, 64 KiB blocks", "4.00", "n/a", "n/a"))
        self.assertEqual(out[5], stats.row("  read, 64 KiB blocks", "n/a", "16.00", "n/a"))
        self.assertEqual(out[6], "")
        self.assertEqual(out[7], stats.row("I/O thread CPU, ms per MiB", "ember", "QEMU microvm",
                                           "ember/QEMU (target <= 0.50)"))
        # ember w4k: 2 ms over 4 MiB; qemu w4k: 20 ms (main loop) + 20 ms (new worker) over 4 MiB.
        self.assertEqual(out[8], stats.row("  write, 4 KiB blocks", "0.500", "10.000", "0.05"))
        # ember r4k: 1 ms + 0.5 ms of a new thread; qemu r4k: 10 ms.
        self.assertEqual(out[9], stats.row("  read, 4 KiB blocks", "0.375", "2.500", "0.15"))
        self.assertEqual(out[10], stats.row("  write, 64 KiB blocks", "0.250", "n/a", "n/a"))
        self.assertEqual(out[11], stats.row("  read, 64 KiB blocks", "n/a", "0.000", "n/a"))
        self.assertEqual(out[13], stats.row("process CPU, boot + I/O, ms", "ember", "QEMU microvm", "ember/QEMU"))
        # ember: total 4000 ms, vcpu 2800, io 50, main 150; qemu: 7000, 5500, 440.
        self.assertEqual(out[14], stats.row("  vCPU threads", "2800 (70.0%)", "5500 (78.6%)", "0.51"))
        self.assertEqual(out[15], stats.row("  I/O thread(s)", "50 (1.2%)", "440 (6.3%)", "0.11"))
        self.assertEqual(out[16], stats.row("  main thread", "150 (3.8%)", "(in I/O)", ""))
        self.assertEqual(out[17], stats.row("  rest (other, exited threads)", "1000 (25.0%)", "1060 (15.1%)", ""))
        self.assertEqual(out[18], stats.row("  total", "4000", "7000", "0.57"))
        self.assertIn("clock ticks of 1/100 s", out[19])
        self.assertEqual(out[21], "  note: ember: r64k failed: dd exit 1: I/O error")
        self.assertEqual(out[-1], "")

    def test_clock_ticks_truncate_as_before(self):
        # 250 Hz: 7 ticks = 28 ms; ns from ticks: 3 * 10^9 // 250.
        self.assertEqual(stats.cpu_ns("ticks", ["1", "2"], 250), 12000000)
        path = self.write("split", "total 7 0\nvcpu 1 0\nio 1 0\nmain 1 0\n")
        self.assertEqual(stats.blk_split_ms(path, 250),
                         {"vcpu": 4, "io": 4, "main": 4, "other": 0, "total": 28, "rest": 16})
        self.assertIsNone(stats.blk_split_ms(self.write("empty", ""), 250))

    def test_qemu_not_run(self):
        self.write("blk.qemu.why", "n/a (QEMU microvm cannot boot Linux on kvm_pvm)\n")
        out = stats.report_blk(self.dir, 4, 16, 100)
        self.assertEqual(out[2], stats.row("  write, 4 KiB blocks", "n/a", "n/a", "n/a"))
        self.assertEqual(out[14], stats.row("  vCPU threads", "n/a", "n/a", "n/a"))
        self.assertEqual(out[16], stats.row("  main thread", "n/a", "n/a", ""))
        self.assertEqual(out[18], stats.row("  total", "n/a", "n/a", "n/a"))
        self.assertEqual(out[-2], "  QEMU microvm: n/a (QEMU microvm cannot boot Linux on kvm_pvm)")


class Warm(TempDir):
    def test_table(self):
        for kind, wall in (("cold", "40000\n41000\n"), ("first", "41000.0\n"), ("warm", "2000\n2100\n1900\n")):
            n = len(wall.split())
            self.write("warm.%s.wall" % kind, wall)
            self.write("warm.%s.user" % kind, "1\n" * n)
            self.write("warm.%s.sys" % kind, "9\n" * n)
        self.write("warm.warm.fail", "x\n")
        self.write("warm.warm.why", "status 125: ember: boom\n")
        self.write("warm.saved", "47.3 20.7\n")
        self.write("warm.restored", "2.5\n3.0\n2.0\n")
        self.write("warm.size", "256M 268435456 21705523\n")
        self.write("warm.format", "sparse 21705523 4.0\nsparse 21705523 5.0\nlz4 9437184 30.0\n")
        out = stats.report_warm(self.dir)
        self.assertEqual(out[1], stats.row("ms, median", "cold", "first run", "warm"))
        self.assertEqual(out[2], stats.row("exec -> exit (wall)", "40500.0", "41000.0", "2000.0"))
        self.assertEqual(out[3], stats.row("host CPU, user + sys", "10.0", "10.0", "10.0"))
        self.assertEqual(out[4], stats.row("successful runs", "2/2", "1/1", "3/4"))
        self.assertEqual(out[5], stats.row("warm / cold (wall)", "", "", "0.05"))
        self.assertEqual(out[6], stats.row("first run - cold (wall)", "", "500.0", ""))
        self.assertEqual(out[7], stats.row("saving the booted guest", "", "47.3", ""))
        self.assertEqual(out[8], stats.row("restore alone (-> guest runs)", "", "", "2.5"))
        self.assertIn(stats.row("", "256M", "256.0 MiB", "20.7 MiB"), out)
        self.assertIn(stats.row("memory on disk", "20.7 MiB", "9.0 MiB", ""), out)
        self.assertIn(stats.row("restore, ms (exec -> guest runs)", "4.5", "30.0", ""), out)
        self.assertIn("  note: warm run: status 125: ember: boom", out)
        self.assertEqual(out[-1], "")

    def test_nothing_measured(self):
        out = stats.report_warm(self.dir)
        self.assertEqual(out[2], stats.row("exec -> exit (wall)", "n/a", "n/a", "n/a"))
        self.assertEqual(out[-1], "")


class Run(TempDir):
    def test_table(self):
        self.write("run.ember.wall", "21000.5\n20000.25\n22000\n")
        self.write("run.ember.user", "0.0\n3000.0\n100.0\n")
        self.write("run.ember.sys", "5000.0\n1000.0\n3000.0\n")
        self.write("run.ember.fail", "x\n")
        self.write("run.ember.why", "killed after 600s\n")
        out = stats.report_run(self.dir)
        self.assertEqual(out[1], stats.row("ms, median", "ember", "QEMU microvm", "ember/QEMU"))
        self.assertEqual(out[2], stats.row("exec -> exit (wall)", "21000.5", "n/a", "n/a"))
        # user + sys per run (5000, 4000, 3100), then the median; not
        # median(user) + median(sys) = 3100.
        self.assertEqual(out[3], stats.row("host CPU, user + sys", "4000.0", "n/a", "n/a"))
        self.assertEqual(out[4], stats.row("  user", "100.0", "n/a", ""))
        self.assertEqual(out[5], stats.row("  sys", "3000.0", "n/a", ""))
        self.assertEqual(out[6], stats.row("successful runs", "3/4", "-", ""))
        self.assertEqual(out[9], "  note: ember: killed after 600s")
        self.assertEqual(out[-1], "")

    def test_both(self):
        for v, wall in (("ember", "100.0\n"), ("qemu", "400.0\n")):
            self.write("run.%s.wall" % v, wall)
            self.write("run.%s.user" % v, "1.5\n")
            self.write("run.%s.sys" % v, "2.5\n")
        out = stats.report_run(self.dir)
        self.assertEqual(out[2], stats.row("exec -> exit (wall)", "100.0", "400.0", "0.25"))
        self.assertEqual(out[3], stats.row("host CPU, user + sys", "4.0", "4.0", "1.00"))
        self.assertEqual(out[6], stats.row("successful runs", "1/1", "1/1", ""))
        self.assertEqual(len(out), 10)


class Stdio(TempDir):
    def test_table(self):
        # 64 MiB each way.  h2g: 8 s on the guest's clock; the process used
        # 400 ticks (4000 ms); threads: main 6.4 ms, vCPU 3200 ms, ports
        # 640 ms, and an "other" thread new at "end" with 64 ms.  g2h: 4 s;
        # 128 ticks; the vCPU thread from stat ticks (no schedstat), 10 -> 74.
        self.write("stdio.ember.phases", "h2g 10.00 18.00\ng2h 20.00 24.00\n")
        self.write("stdio.ember.total", "h2g start 100 50\nh2g end 400 150\ng2h start 400 150\ng2h end 500 178\n")
        self.write("stdio.ember.snap", "".join([
            "h2g start 10 main ns 1000000\nh2g start 11 vcpu ns 5000000000\nh2g start 12 ports ns 100000000\n",
            "h2g end 10 main ns 7400000\nh2g end 11 vcpu ns 8200000000\nh2g end 12 ports ns 740000000\n",
            "h2g end 13 other ns 64000000\n",
            "g2h start 11 vcpu ticks 5 5\ng2h start 12 ports ns 740000000\n",
            "g2h end 11 vcpu ticks 40 34\ng2h end 12 ports ns 1060000000\n",
        ]))
        self.write("stdio.ember.bytes", "67108864\n")
        self.write("stdio.qemu.why", "n/a (QEMU microvm cannot boot Linux on kvm_pvm)\n")
        out = stats.report_stdio(self.dir, 64, 100)
        self.assertEqual(out[0], "")
        self.assertEqual(out[1], stats.row("guest throughput, MiB/s (64 MiB)", "ember", "QEMU microvm",
                                           "ember/QEMU"))
        self.assertEqual(out[2], stats.row("  host -> guest (stdin)", "8.00", "n/a", "n/a"))
        self.assertEqual(out[3], stats.row("  guest -> host (stdout)", "16.00", "n/a", "n/a"))
        self.assertEqual(out[4], "")
        self.assertEqual(out[5], stats.crow("ember CPU, ms per MiB", "total", "vCPU", "ports", "main", "other",
                                            "QEMU microvm"))
        self.assertEqual(out[6], stats.crow("  host -> guest (stdin)",
                                            "62.500", "50.000", "10.000", "0.100", "1.000", "n/a"))
        # g2h: 128 ticks = 1280 ms; vCPU 64 ticks = 640 ms; ports 320 ms; main
        # and other have no thread in both snapshots.
        self.assertEqual(out[7], stats.crow("  guest -> host (stdout)",
                                            "20.000", "10.000", "5.000", "0.000", "0.000", "n/a"))
        self.assertIn("clock ticks of 1/100 s", out[9])
        self.assertEqual(out[-2], "  QEMU microvm: n/a (QEMU microvm cannot boot Linux on kvm_pvm)")
        self.assertFalse(any("note:" in line for line in out))
        self.assertEqual(out[-1], "")

    def test_stdout_short(self):
        # The guest finished g2h, but ember's stdout carried less than 64 MiB:
        # g2h has no figures, and the note says why.
        self.write("stdio.ember.phases", "h2g 10.00 18.00\ng2h 20.00 24.00\n")
        self.write("stdio.ember.total", "h2g start 0 0\nh2g end 64 0\ng2h start 64 0\ng2h end 128 0\n")
        self.write("stdio.ember.snap", "g2h start 12 ports ns 0\ng2h end 12 ports ns 64000000\n")
        self.write("stdio.ember.bytes", "1000\n")
        out = stats.report_stdio(self.dir, 64, 100)
        self.assertEqual(out[2], stats.row("  host -> guest (stdin)", "8.00", "n/a", "n/a"))
        self.assertEqual(out[3], stats.row("  guest -> host (stdout)", "n/a", "n/a", "n/a"))
        # h2g: totals but no thread snapshots.
        self.assertEqual(out[6], stats.crow("  host -> guest (stdin)", "10.000", "n/a", "n/a", "n/a", "n/a", "n/a"))
        self.assertEqual(out[7], stats.crow("  guest -> host (stdout)", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"))
        self.assertEqual(out[-2],
                         "  note: ember: guest -> host: 1000 bytes arrived on ember's stdout, not 67108864")

    def test_failed(self):
        # h2g's check failed in the guest, then ember was killed: no phase,
        # nothing counted on stdout, only the first reason.
        self.write("stdio.ember.snap", "h2g start 10 main ns 1000000\n")
        self.write("stdio.ember.total", "h2g start 10 10\n")
        self.write("stdio.ember.why",
                   "h2g failed: exit 0: 1023+1 records in 1023+1 records out (want 1024+0 records in)\n")
        self.write("stdio.qemu.why", "n/a (QEMU microvm cannot boot Linux on kvm_pvm)\n")
        out = stats.report_stdio(self.dir, 64, 100)
        self.assertEqual(out[2], stats.row("  host -> guest (stdin)", "n/a", "n/a", "n/a"))
        self.assertEqual(out[3], stats.row("  guest -> host (stdout)", "n/a", "n/a", "n/a"))
        self.assertEqual(out[6], stats.crow("  host -> guest (stdin)", "n/a", "n/a", "n/a", "n/a", "n/a", "n/a"))
        self.assertEqual(out[-3], "  note: ember: h2g failed: exit 0: 1023+1 records in 1023+1 records out "
                                  "(want 1024+0 records in)")
        self.assertEqual(out[-2], "  QEMU microvm: n/a (QEMU microvm cannot boot Linux on kvm_pvm)")

    def test_bytes_note(self):
        self.write("stdio.ember.bytes", "1048576\n")
        self.assertIsNone(stats.stdio_bytes_note(self.dir, 1))
        self.assertEqual(stats.stdio_bytes_note(self.dir, 2),
                         "guest -> host: 1048576 bytes arrived on ember's stdout, not 2097152")
        self.write("stdio.ember.bytes", "")
        self.assertEqual(stats.stdio_bytes_note(self.dir, 1), "guest -> host: ember's stdout was not counted")


class Net(TempDir):
    def test_tables(self):
        # 8 MiB each way.  auto: dl 32 s on the guest's clock, 400 ticks of
        # ember (4000 ms); threads: ember-net 80 ms, vCPU 3600 ms, main 8 ms,
        # ports 16 ms + a thread new at "end" with 8 ms (rest), the host nc
        # 40 ms.  ul: 16 s; the vCPU thread from stat ticks (no schedstat).
        self.write("net.auto.phases", "dl 100.00 132.00\nul 140.00 156.00\n")
        self.write("net.auto.bytes", "dl 8700000\nul 8388608\n")
        self.write("net.auto.total", "dl start 1000 200\ndl end 1200 400\nul start 1200 400\nul end 1300 460\n")
        self.write("net.auto.snap", "".join([
            "dl start 10 main ns 1000000\ndl start 11 vcpu ns 9000000000\ndl start 12 net ns 20000000\n",
            "dl start 13 ports ns 4000000\ndl start 50 peer ns 1000000\n",
            "dl end 10 main ns 9000000\ndl end 11 vcpu ns 12600000000\ndl end 12 net ns 100000000\n",
            "dl end 13 ports ns 20000000\ndl end 14 other ns 8000000\ndl end 50 peer ns 41000000\n",
            "ul start 11 vcpu ticks 100 100\nul start 12 net ns 100000000\nul start 51 peer ns 0\n",
            "ul end 11 vcpu ticks 150 190\nul end 12 net ns 180000000\nul end 51 peer ns 80000000\n",
        ]))
        self.write("net.auto.ready", "1000.5 1061.25\n")
        self.write("net.auto.threads", "10 ember main\n12 ember net\n11 ember vcpu\ninferred\n")
        # user: dl's nc failed (no phase line); ul failed after 1000 bytes.
        self.write("net.user.bytes", "dl 0\nul 1000\n")
        self.write("net.user.why", "dl failed: nc exit 1: nc: can't connect to remote host\n")
        self.write("net.user.ready", "2000,0 2003,5\n")
        self.write("net.user.threads", "20 ember main\n21 ember-net net\n22 ember-vcpu0 vcpu\n")
        out = stats.report_net(self.dir, 8, 100)
        self.assertEqual(out[0], "")
        self.assertEqual(out[1], stats.row("guest throughput, MiB/s (8 MiB)", "auto (tap)", "user (passt)"))
        self.assertEqual(out[2], stats.row("  host -> guest", "0.250", "n/a"))
        self.assertEqual(out[3], stats.row("  guest -> host", "0.500", "n/a"))
        self.assertEqual(out[4], stats.row("ember start -> first phase, s", "60.8", "3.5"))
        self.assertEqual(out[5], "")
        self.assertEqual(out[6], stats.nrow("host CPU, ms per MiB", "ember", "ember-net", "vCPU", "main", "rest",
                                            "passt", "host nc"))
        # dl: 4000 ms / 8 MiB; rest = ports 16 ms + the new thread's 8 ms.
        self.assertEqual(out[7], stats.nrow("  auto, host -> guest", "500.0", "10.0", "450.0", "1.0", "3.0",
                                            "-", "5.0"))
        # ul: 160 ticks = 1600 ms; vCPU 140 ticks = 1400 ms; net 80 ms; the
        # host nc 80 ms; no main thread in both snapshots.
        self.assertEqual(out[8], stats.nrow("  auto, guest -> host", "200.0", "10.0", "175.0", "0.0", "0.0",
                                            "-", "10.0"))
        self.assertEqual(out[9], stats.nrow("  user, host -> guest", *["n/a"] * 7))
        self.assertEqual(out[10], stats.nrow("  user, guest -> host", *["n/a"] * 7))
        self.assertEqual(out[11], "")
        self.assertEqual(out[12], stats.nrow("host CPU per GiB, s", "ember", "all", "ember %", "own %",
                                             "", "", "").rstrip())
        # dl: 500 ms per MiB = 512 s per GiB; all = 4040 ms; own = 80 + 8 + 24 ms.
        self.assertEqual(out[13], stats.nrow("  auto, host -> guest", "512.0", "517.1", "99.0%", "2.8%",
                                             "", "", "").rstrip())
        self.assertEqual(out[14], stats.nrow("  auto, guest -> host", "204.8", "215.0", "95.2%", "4.8%",
                                             "", "", "").rstrip())
        self.assertEqual(out[15], stats.nrow("  user, host -> guest", *["n/a"] * 4 + [""] * 3).rstrip())
        self.assertIn("clock ticks of 1/100 s", out[18])
        # The notes: auto's threads were named by creation order, user's by
        # name; then each kind's counts and first failure.
        self.assertEqual(out[-5], '  note: auto: ember\'s threads had no names (all "ember"): ember-net and vCPU '
                                  'told apart')
        self.assertEqual(out[-4], "        by creation order (net.sh, net_classes)")
        self.assertEqual(out[-3], "  note: user: guest -> host: 1000 bytes had arrived when it failed")
        self.assertEqual(out[-2], "  note: user: dl failed: nc exit 1: nc: can't connect to remote host")
        self.assertEqual(out[-1], "")

    def test_passt_and_missing_count(self):
        # user: passt's CPU counts in "all"; dl's count never came (ember
        # killed after the end marker): no figures, and a note.
        self.write("net.user.phases", "dl 0.0 16.0\nul 20.0 36.0\n")
        self.write("net.user.bytes", "ul 16777216\n")
        self.write("net.user.total", "ul start 0 0\nul end 300 100\n")
        self.write("net.user.snap", "ul start 11 vcpu ns 0\nul start 20 passt ns 0\nul start 30 peer ns 0\n"
                                    "ul end 11 vcpu ns 3000000000\nul end 20 passt ns 800000000\n"
                                    "ul end 30 peer ns 200000000\n")
        out = stats.report_net(self.dir, 16, 100)
        self.assertEqual(out[2], stats.row("  host -> guest", "n/a", "n/a"))
        self.assertEqual(out[3], stats.row("  guest -> host", "n/a", "1.000"))
        self.assertEqual(out[4], stats.row("ember start -> first phase, s", "n/a", "n/a"))
        # 4000 ms / 16 MiB; ember 4000 of 5000 ms, none of it outside the vCPU.
        self.assertEqual(out[10], stats.nrow("  user, guest -> host", "250.0", "0.0", "187.5", "0.0", "0.0",
                                             "50.0", "12.5"))
        self.assertEqual(out[16], stats.nrow("  user, guest -> host", "256.0", "320.0", "80.0%", "0.0%",
                                             "", "", "").rstrip())
        self.assertEqual(out[-2], "  note: user: host -> guest: the bytes that arrived were not counted")
        self.assertFalse(any("no names" in line for line in out))

    def test_arrived(self):
        # dl: eth0's frames, at least the data; ul: the data, exactly.
        self.assertTrue(stats.net_arrived("dl", 8 << 20, 8))
        self.assertTrue(stats.net_arrived("dl", (8 << 20) + 300000, 8))
        self.assertFalse(stats.net_arrived("dl", (8 << 20) - 1, 8))
        self.assertTrue(stats.net_arrived("ul", 8 << 20, 8))
        self.assertFalse(stats.net_arrived("ul", (8 << 20) + 1, 8))
        self.assertFalse(stats.net_arrived("ul", None, 8))
        self.write("net.auto.phases", "dl 1 2\nul 3 4\n")
        self.write("net.auto.bytes", "dl 1000\nul 8388609\n")
        self.assertEqual(stats.net_bytes_note(self.dir, "auto", 8),
                         "host -> guest: the guest's eth0 received 1000 bytes, under 8388608; "
                         "guest -> host: 8388609 bytes arrived, not 8388608")
        self.assertIsNone(stats.net_bytes_note(self.dir, "user", 8))

    def test_not_run(self):
        self.write("net.user.why", "passt not found (make deps installs it)\n")
        out = stats.report_net(self.dir, 8, 100)
        self.assertEqual(out[2], stats.row("  host -> guest", "n/a", "n/a"))
        self.assertEqual(out[7], stats.nrow("  auto, host -> guest", *["n/a"] * 7))
        self.assertEqual(out[-2], "  note: user: passt not found (make deps installs it)")
        self.assertEqual(out[-1], "")


class CommandLine(TempDir):
    def test_main_runs_each_report(self):
        for argv in (["tiny", self.dir], ["run", self.dir],
                     ["blk", self.dir, "--mib-4k", "4", "--mib-64k", "16", "--clk-tck", "100"],
                     ["stdio", self.dir, "--mib", "64", "--clk-tck", "100"],
                     ["net", self.dir, "--mib", "8", "--clk-tck", "100"],
                     ["linux", "--line=", "--stderr", os.path.join(self.dir, "e"), "--timeout", "600"],
                     ["size", "--qemu", "q"]):
            buf = io.StringIO()
            with contextlib.redirect_stdout(buf):
                self.assertEqual(stats.main(argv), 0)
            self.assertTrue(buf.getvalue().endswith("\n"), argv)


if __name__ == "__main__":
    unittest.main()
