#!/usr/bin/env python3
"""bench_peer.py - the ADC client's benchmark (not a test).

Measured in one run, on loopback, the same (cached) file each time:
  ours     `ipckit peer` -> `ipckit peer` through uhub: from /get to
           download-done (TTH verified block by block, written to disk,
           fsync'ed, renamed into place); "setup" is the same for a
           64 KiB file (hub round trip, connection, tthl, one GET, fsync):
           the fixed cost inside that figure;
  raw      the same bytes over one TCP connection, two processes as ours:
           a sendfile() loop sending (a thread of this script), and
           receiving into a file (no hashing at all) either `nc` (a 16 KiB
           poll/read/write loop) or raw_recv (a 1 MiB recv/write loop),
           timed from the connection; each also followed by fsync() (we
           fsync a finished download);
  ncdc     ncdc -> ncdc through the same hub: from the 'd' key to the
           finished file in its download folder;
  tth      hashing the file as the share does (bench_tth) vs `rhash --tth`;
  memory   peak RSS (VmHWM) of our uploader and downloader after moving a
           small and a large file.
Each figure is the median of --runs runs; "cpu" is user + system seconds
of both ends (what the contenders cost, whatever else the machine runs).
Runs interleave, and each ratio is also given as the median of the ratios
of the runs side by side (the load drifts less within one round).

usage: bench_peer.py [--size-mib N] [--small-mib N] [--runs N] [--no-ncdc]
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
BUILD = os.environ.get("IPCKIT_BUILD_ROOT", os.path.join(ROOT, "build"))
os.environ.setdefault("IPCKIT", os.path.join(BUILD, "cli", "ipckit"))

from dcclients import (BatchPeer, Ncdc, Uhub, fields, free_port,  # noqa
                       tth, wait_until)


def make_file(path, mib):
    with open(path, "wb") as f:
        for _ in range(mib):
            f.write(os.urandom(1 << 20))


def proc_cpu(pid):
    """User + system seconds a live process (all its threads) has used."""
    with open(f"/proc/{pid}/stat") as f:
        v = f.read().rsplit(")", 1)[1].split()
    return (int(v[11]) + int(v[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


class Ours:
    """Two of our clients through the hub; one download per run()."""

    def __init__(self, hub, src_dir, path, nick=""):
        self.root = tth(path)
        self.size = os.path.getsize(path)
        self.up = BatchPeer(hub.url, nick + "up", shares=[src_dir],
                            listen="127.0.0.1:0")
        self.dn = BatchPeer(hub.url, nick + "dn", listen="127.0.0.1:0")
        self.up.expect("share-ready 1 ", timeout=600)

    def cpu(self):
        return proc_cpu(self.up.proc.pid) + proc_cpu(self.dn.proc.pid)

    def run(self):
        """(seconds, cpu seconds) of one download."""
        dn = self.dn
        dn.mark()
        dn.send(f"/search tth:{self.root}")
        dn.expect("result 1 ", timeout=30)
        c0 = self.cpu()
        t0 = time.monotonic()
        dn.send("/get 1")
        done = dn.expect("download-done ", timeout=600)
        t = time.monotonic() - t0
        cpu = self.cpu() - c0
        got = fields(done, 5)[2]
        assert os.path.getsize(got) == self.size
        os.unlink(got)
        return t, cpu

    def rss(self):
        return peak_rss_kib(self.up.proc.pid), peak_rss_kib(self.dn.proc.pid)

    def stop(self):
        self.up.stop()
        self.dn.stop()


def raw_once(path, outdir, receiver):
    """One copy over TCP: sendfile() loop -> receiver -> file.
    (seconds, seconds with fsync, cpu seconds of both ends)."""
    size = os.path.getsize(path)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]
    sender_cpu, t_conn = [], []

    def serve():
        c, _ = srv.accept()
        t_conn.append(time.monotonic())
        c0 = time.thread_time()
        with open(path, "rb") as f:
            off = 0
            while off < size:
                off += os.sendfile(c.fileno(), f.fileno(), off, size - off)
        c.close()
        sender_cpu.append(time.thread_time() - c0)
    if receiver == "nc":
        argv = ["nc", "-d", "127.0.0.1", str(port)]
    else:
        argv = [os.path.join(BUILD, "bench", "peer", "raw_recv"), str(port)]
    t = threading.Thread(target=serve)
    out = os.path.join(outdir, "raw.out")
    with open(out, "wb") as f:
        t.start()
        proc = subprocess.Popen(argv, stdout=f)
        _, status, ru = os.wait4(proc.pid, 0)
        t1 = time.monotonic()
        proc.returncode = os.waitstatus_to_exitcode(status)
        assert proc.returncode == 0, argv
        # We fsync a download before moving it into place; the same
        # durability for the copy is the second figure.
        os.fsync(f.fileno())
        t2 = time.monotonic()
    t.join()
    # Timed from the connection (the receiver's exec is not the copy).
    secs, secs_sync = t1 - t_conn[0], t2 - t_conn[0]
    srv.close()
    assert os.path.getsize(out) == size
    os.unlink(out)
    return secs, secs_sync, ru.ru_utime + ru.ru_stime + sender_cpu[0]


class NcdcPair:
    """ncdc -> ncdc through the same hub; one download per run()."""

    def __init__(self, hub_url, src_dir, path):
        self.root = tth(path)
        self.path = path
        self.name = os.path.basename(path)
        self.a = Ncdc(hub_url, "nc-up", active=True, share=src_dir)
        self.b = Ncdc(hub_url, "nc-dn", active=True)
        # The hub tab shows the users' total share once nc-up has hashed.
        mib = os.path.getsize(path) >> 20
        self.b.wait_screen(f"{mib}.00 MiB", timeout=600)
        self.pids = [int(n.tmux("display-message", "-p", "-t", "m",
                                "#{pane_pid}").stdout)
                     for n in (self.a, self.b)]

    def cpu(self):
        return sum(proc_cpu(pid) for pid in self.pids)

    def run(self):
        b = self.b
        b.hub_tab()  # a command typed in a search tab would be keys
        b.type(f"/search -tth {self.root}")
        b.wait_screen(self.name, timeout=30)
        target = os.path.join(b.downloads, self.name)
        size = os.path.getsize(self.path)
        c0 = self.cpu()
        t0 = time.monotonic()
        b.key("d")
        wait_until(lambda: os.path.exists(target) and
                   os.path.getsize(target) == size,
                   600, "ncdc download", step=0.02)
        t = time.monotonic() - t0
        cpu = self.cpu() - c0
        os.unlink(target)
        b.close_tab()
        return t, cpu

    def stop(self):
        self.a.stop()
        self.b.stop()


def bench_tth(path, runs):
    tool = os.path.join(BUILD, "bench", "peer", "bench_tth")
    ours, theirs = [], []
    for _ in range(runs):
        out = subprocess.run([tool, path], check=True, capture_output=True,
                             text=True, timeout=600).stdout.split()
        ours.append(float(out[2]))
        t0 = time.monotonic()
        r = subprocess.run(["rhash", "--tth", "-p", "%{tth}", path],
                           check=True, capture_output=True, text=True,
                           timeout=600).stdout.strip().upper()
        theirs.append(time.monotonic() - t0)
        assert r == out[3], (r, out[3])
    return ours, theirs


def mibs(size, secs):
    return size / (1 << 20) / secs


def med(xs):
    return statistics.median(xs)


def runs(xs):
    return ", ".join(f"{x:.2f}" for x in xs)


def line(name, size, secs, cpu):
    print(f"          {name:<24} {mibs(size, med(secs)):7.1f} MiB/s "
          f"({med(secs):.2f} s, cpu {med(cpu):.2f} s; runs {runs(secs)})")


def ratio(name, ours, theirs, target):
    """theirs/ours as a ratio of medians and as the median of the runs'
    ratios (round by round)."""
    paired = med([b / a for a, b in zip(ours, theirs)])
    print(f"          ratio {name:<26} {med(theirs) / med(ours) * 100:6.1f}%"
          f" (run by run {paired * 100:6.1f}%){target}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--small-mib", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--no-ncdc", action="store_true")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="ipk-bench-peer-")
    hub = Uhub()
    try:
        src = os.path.join(work, "share")
        os.makedirs(src)
        big = os.path.join(src, "big.bin")
        make_file(big, a.size_mib)
        size = os.path.getsize(big)
        tiny_dir = os.path.join(work, "tiny")
        os.makedirs(tiny_dir)
        tiny = os.path.join(tiny_dir, "tiny.bin")
        with open(tiny, "wb") as f:
            f.write(os.urandom(64 * 1024))
        print(f"file: {a.size_mib} MiB, {a.runs} runs each, medians; "
              f"loopback, 2 shared cores", flush=True)

        # Runs interleave (ours, raw, ncdc, ours, ...) so that a burst
        # of load from elsewhere hits every contender alike.
        ours_b = Ours(hub, src, big)
        tiny_b = nc_b = None
        res = {k: ([], []) for k in ("ours", "setup", "nc", "nc+fsync",
                                     "loop", "loop+fsync", "ncdc")}

        def add(k, t, cpu):
            res[k][0].append(t)
            res[k][1].append(cpu)
        try:
            if not a.no_ncdc:
                nc_b = NcdcPair(hub.url, src, big)
            # After ncdc has seen the share total (its wait reads it).
            tiny_b = Ours(hub, tiny_dir, tiny, "tiny-")
            for _ in range(a.runs):
                add("ours", *ours_b.run())
                add("setup", *tiny_b.run())
                for rcv in ("nc", "loop"):
                    r, rs, cpu = raw_once(big, work, rcv)
                    add(rcv, r, cpu)
                    add(rcv + "+fsync", rs, cpu)
                if nc_b:
                    add("ncdc", *nc_b.run())
            rss_big = ours_b.rss()
        finally:
            ours_b.stop()
            if tiny_b:
                tiny_b.stop()
            if nc_b:
                nc_b.stop()
        ours = res["ours"][0]
        print("download")
        line("ipckit->ipckit", size, *res["ours"])
        print(f"          of which setup (64 KiB file: hub, connection, "
              f"tthl, fsync) {med(res['setup'][0]):.3f} s")
        line("raw sendfile->nc", size, *res["nc"])
        line("  + fsync", size, *res["nc+fsync"])
        line("raw sendfile->1MiB loop", size, *res["loop"])
        line("  + fsync", size, *res["loop+fsync"])
        ratio("ipckit/(raw nc)", ours, res["nc"][0], " (target >= 80%)")
        ratio("ipckit/(raw nc + fsync)", ours, res["nc+fsync"][0], "")
        ratio("ipckit/(raw loop)", ours, res["loop"][0], "")
        ratio("ipckit/(raw loop + fsync)", ours, res["loop+fsync"][0], "")
        if nc_b:
            line("ncdc->ncdc", size, *res["ncdc"])
            nc = res["ncdc"][0]
            print(f"          ratio ipckit/ncdc {med(nc) / med(ours):5.2f}x "
                  f"(run by run "
                  f"{med([b / a for a, b in zip(ours, nc)]):5.2f}x) "
                  f"(target > 1)")
        sys.stdout.flush()

        o, r = bench_tth(big, a.runs)
        m_o, m_r = statistics.median(o), statistics.median(r)
        print(f"tth       bench_tth {mibs(size, m_o):8.1f} MiB/s, rhash --tth "
              f"{mibs(size, m_r):8.1f} MiB/s, ratio {m_r / m_o * 100:5.1f}% "
              f"(target >= 90%)", flush=True)

        small_dir = os.path.join(work, "small")
        os.makedirs(small_dir)
        small = os.path.join(small_dir, "small.bin")
        make_file(small, a.small_mib)
        small_b = Ours(hub, small_dir, small)
        try:
            small_b.run()
            rss_small = small_b.rss()
        finally:
            small_b.stop()
        print(f"memory    peak RSS uploader/downloader: {a.small_mib} MiB "
              f"file {rss_small[0] // 1024}/{rss_small[1] // 1024} MiB, "
              f"{a.size_mib} MiB file {rss_big[0] // 1024}/"
              f"{rss_big[1] // 1024} MiB")
    finally:
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
