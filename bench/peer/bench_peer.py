#!/usr/bin/env python3
"""bench_peer.py - the ADC client's benchmark (not a test).

Measured in one run, on loopback, the same file each time:
  ours     `ipckit peer` -> `ipckit peer` through uhub: from /get to
           download-done (TTH verified block by block, written to disk);
  raw      the same bytes over one TCP connection: a sendfile() loop
           sending, `nc` receiving into a file (no hashing at all), and
           the same followed by fsync() (we fsync a finished download);
  ncdc     ncdc -> ncdc through the same hub: from the 'd' key to the
           finished file in its download folder;
  tth      hashing the file as the share does (bench_tth) vs `rhash --tth`;
  memory   peak RSS (VmHWM) of our uploader and downloader after moving a
           small and a large file.
Each figure is the median of --runs runs; the machine is shared, so
ratios matter more than absolute numbers.

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


def peak_rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return -1


class Ours:
    """Two of our clients through the hub; one download per run()."""

    def __init__(self, hub, src_dir, path):
        self.root = tth(path)
        self.size = os.path.getsize(path)
        self.up = BatchPeer(hub.url, "up", shares=[src_dir],
                            listen="127.0.0.1:0")
        self.dn = BatchPeer(hub.url, "dn", listen="127.0.0.1:0")
        self.up.expect("share-ready 1 ", timeout=600)

    def run(self):
        dn = self.dn
        dn.mark()
        dn.send(f"/search tth:{self.root}")
        dn.expect("result 1 ", timeout=30)
        t0 = time.monotonic()
        dn.send("/get 1")
        done = dn.expect("download-done ", timeout=600)
        t = time.monotonic() - t0
        got = fields(done, 5)[2]
        assert os.path.getsize(got) == self.size
        os.unlink(got)
        return t

    def rss(self):
        return peak_rss_kib(self.up.proc.pid), peak_rss_kib(self.dn.proc.pid)

    def stop(self):
        self.up.stop()
        self.dn.stop()


def raw_once(path, outdir):
    """One copy over TCP: sendfile() loop -> nc -> file."""
    size = os.path.getsize(path)
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def serve():
        c, _ = srv.accept()
        with open(path, "rb") as f:
            off = 0
            while off < size:
                off += os.sendfile(c.fileno(), f.fileno(), off, size - off)
        c.close()
    t = threading.Thread(target=serve)
    out = os.path.join(outdir, "raw.out")
    t0 = time.monotonic()
    t.start()
    with open(out, "wb") as f:
        subprocess.run(["nc", "-d", "127.0.0.1", str(port)], stdout=f,
                       check=True, timeout=600)
        secs = time.monotonic() - t0
        # We fsync a download before moving it into place; the same
        # durability for the copy is the second figure.
        os.fsync(f.fileno())
        secs_sync = time.monotonic() - t0
    t.join()
    srv.close()
    assert os.path.getsize(out) == size
    os.unlink(out)
    return secs, secs_sync


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

    def run(self):
        b = self.b
        b.hub_tab()  # a command typed in a search tab would be keys
        b.type(f"/search -tth {self.root}")
        b.wait_screen(self.name, timeout=30)
        target = os.path.join(b.downloads, self.name)
        size = os.path.getsize(self.path)
        t0 = time.monotonic()
        b.key("d")
        wait_until(lambda: os.path.exists(target) and
                   os.path.getsize(target) == size,
                   600, "ncdc download", step=0.02)
        t = time.monotonic() - t0
        os.unlink(target)
        b.close_tab()
        return t

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
        print(f"file: {a.size_mib} MiB, {a.runs} runs each, medians; "
              f"loopback, 2 shared cores", flush=True)

        # Runs interleave (ours, raw, ncdc, ours, ...) so that a burst
        # of load from elsewhere hits every contender alike.
        ours_b = Ours(hub, src, big)
        nc_b = None if a.no_ncdc else NcdcPair(hub.url, src, big)
        ours, raw, raw_sync, nc = [], [], [], []
        try:
            for _ in range(a.runs):
                ours.append(ours_b.run())
                r, rs = raw_once(big, work)
                raw.append(r)
                raw_sync.append(rs)
                if nc_b:
                    nc.append(nc_b.run())
            rss_big = ours_b.rss()
        finally:
            ours_b.stop()
            if nc_b:
                nc_b.stop()
        m_ours, m_raw = statistics.median(ours), statistics.median(raw)
        print(f"download  ipckit->ipckit {mibs(size, m_ours):8.1f} MiB/s "
              f"({m_ours:.2f} s; runs {', '.join(f'{t:.2f}' for t in ours)})")
        print(f"          raw TCP (sendfile->nc) {mibs(size, m_raw):8.1f} "
              f"MiB/s ({m_raw:.2f} s; runs "
              f"{', '.join(f'{t:.2f}' for t in raw)})")
        m_rs = statistics.median(raw_sync)
        print(f"          raw TCP + fsync {mibs(size, m_rs):8.1f} MiB/s "
              f"({m_rs:.2f} s; runs "
              f"{', '.join(f'{t:.2f}' for t in raw_sync)})")
        print(f"          ratio ipckit/raw {m_raw / m_ours * 100:5.1f}%, "
              f"ipckit/(raw + fsync) {m_rs / m_ours * 100:5.1f}% "
              f"(target >= 80%)", flush=True)
        if nc:
            m_nc = statistics.median(nc)
            print(f"          ncdc->ncdc {mibs(size, m_nc):8.1f} MiB/s "
                  f"({m_nc:.2f} s; runs {', '.join(f'{t:.2f}' for t in nc)})")
            print(f"          ratio ipckit/ncdc {m_nc / m_ours:5.2f}x "
                  f"(target > 1)", flush=True)

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
