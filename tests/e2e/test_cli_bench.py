#!/usr/bin/env python3
"""test_cli_bench.py - `ipckit bench` end to end: the table and its
recommendations, --json, --csv, --plot (well-formed SVG, one series per
mechanism), n/a for sizes above a mechanism's maximum, usage errors, and
SIGINT/SIGTERM mid-run leaving no IPC object, temporary file or process.
Short budgets keep it to a few seconds; no figure is asserted."""
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import IPCKIT, Deadline, TempDir, ipckit  # noqa: E402

SVG = "{http://www.w3.org/2000/svg}"
MECHS = ["pipe", "shm", "unix", "sysvmq"]
# ipcbench.h: IPCBENCH_KEY_BASE, the System V keys a benchmark draws from.
KEY_BASE = 0x1be00000


def bench_objects():
    """The IPC objects of benchmarks on this machine: POSIX names with
    ipk-bench- in them (ipcbench's %N) and System V objects with keys in
    ipcbench's range (%K).  Other tests' objects, made concurrently, are
    not counted, so a leak of ours cannot hide and theirs cannot fail us."""
    objs = set()
    for kind in ("msg", "shm", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}", encoding="ascii") as f:
                next(f)
                for line in f:
                    key = int(line.split()[0]) & 0xffffffff
                    if KEY_BASE <= key <= KEY_BASE + 0xfffff:
                        objs.add((kind, line.split()[1]))
        except OSError:
            pass
    for d in ("/dev/shm", "/dev/mqueue"):
        try:
            objs |= {(d, n) for n in os.listdir(d) if "ipk-bench-" in n}
        except OSError:
            pass
    return objs


def assert_none_left(before, what):
    left = bench_objects() - before
    assert not left, f"benchmark objects left {what}: {sorted(left)}"


def bench(*args, tmp=None, timeout=60):
    """Run ipckit bench with TMPDIR private; returns CompletedProcess."""
    env = {"TMPDIR": tmp.path} if tmp else None
    return ipckit("bench", *args, timeout=timeout, env=env)


def rec_lines(out):
    return [ln for ln in out.splitlines() if ln.startswith("for ")]


def test_table_and_recommendations():
    tmp = TempDir()
    before = bench_objects()
    try:
        cp = bench("--seconds", "1", "--sizes", "64,4096", "--mechanisms",
                   ",".join(MECHS), tmp=tmp)
        assert cp.returncode == 0, cp.stderr
        table = cp.stdout.split("\nsize ", 1)[1]
        for size in ("64 B", "4 KiB"):
            # Each size's block has a row per mechanism, with figures.
            block = table.split("\n" + size, 1)[1].split("\n\n", 1)[0]
            for m in MECHS:
                row = [ln for ln in block.splitlines()
                       if ln.split()[-7:-6] == [m] or f" {m} " in ln]
                assert row and "error" not in row[0], (size, m, block)
        recs = rec_lines(cp.stdout)
        assert len(recs) == 2, cp.stdout
        for size, line in zip(("64 B", "4 KiB"), recs):
            assert line.startswith(f"for {size} messages use "), line
            named = line[len(f"for {size} messages use "):].split()[0]
            assert named.rstrip(":") in MECHS, line
            assert "pipe" in line, line  # the baseline it is compared with
        assert os.listdir(tmp.path) == [], os.listdir(tmp.path)
        assert_none_left(before, "after a run")
    finally:
        tmp.cleanup()


def test_na_above_maximum():
    # System V queues take at most kernel.msgmax (8192 by default) bytes.
    msgmax = int(open("/proc/sys/kernel/msgmax").read())
    size = msgmax * 2
    cp = bench("--seconds", "0.3", "--sizes", str(size), "--mechanisms",
               "sysvmq,pipe")
    assert cp.returncode == 0, cp.stderr
    row = [ln for ln in cp.stdout.splitlines() if " sysvmq " in ln]
    assert row and "n/a" in row[0], cp.stdout
    line = rec_lines(cp.stdout)[0]
    assert " use pipe" in line and "n/a" in line and "sysvmq" in line, line


def test_json():
    cp = bench("--json", "--seconds", "0.6", "--sizes", "64,16K",
               "--mechanisms", "pipe,sysvmq,udp")
    assert cp.returncode == 0, cp.stderr
    doc = json.loads(cp.stdout)
    recs = doc["records"]
    assert len(recs) == 6, recs
    assert {(r["mechanism"], r["size"]) for r in recs} == {
        (m, s) for m in ("pipe", "sysvmq", "udp") for s in (64, 16384)}
    by = {(r["mechanism"], r["size"]): r for r in recs}
    ok = by[("pipe", 64)]
    assert ok["status"] == "ok", ok
    for k in ("latency_p50_us", "latency_p99_us", "msgs_per_s", "mb_per_s"):
        assert isinstance(ok[k], (int, float)) and ok[k] > 0, (k, ok)
    assert ok["latency_p99_us"] >= ok["latency_p50_us"]
    assert ok["latency_vs_baseline"] == 1, ok
    na = by[("sysvmq", 16384)]
    assert na["status"] == "n/a" and na["latency_p50_us"] is None, na
    assert by[("udp", 64)]["lossy"] is True
    assert by[("pipe", 64)]["lossy"] is False
    assert doc["baseline"] == "pipe" and doc["cpus"] >= 1
    assert [r["size"] for r in doc["recommendations"]] == [64, 16384]
    for r in doc["recommendations"]:
        # udp may drop messages: it is never the recommendation.
        assert r["latency"] in ("pipe", "sysvmq"), r
        assert r["text"].startswith("for "), r


def test_csv():
    cp = bench("--csv", "--seconds", "0.4", "--sizes", "64,1K",
               "--mechanisms", "pipe,unix")
    assert cp.returncode == 0, cp.stderr
    rows = list(csv.DictReader(io.StringIO(cp.stdout)))
    assert len(rows) == 4, cp.stdout
    assert {(r["mechanism"], r["size"]) for r in rows} == {
        ("pipe", "64"), ("pipe", "1024"), ("unix", "64"), ("unix", "1024")}
    for r in rows:
        assert r["status"] == "ok", r
        assert float(r["latency_p50_us"]) > 0 and float(r["mb_per_s"]) > 0


def test_plot_svg():
    tmp = TempDir()
    try:
        path = tmp.join("bench.svg")
        mechs = ["pipe", "shm", "sysvmq", "udp"]
        cp = bench("--seconds", "0.6", "--sizes", "64,16K", "--mechanisms",
                   ",".join(mechs), "--plot", path, tmp=tmp)
        assert cp.returncode == 0, cp.stderr
        assert os.listdir(tmp.path) == ["bench.svg"], os.listdir(tmp.path)
        root = ET.parse(path).getroot()
        assert root.tag == SVG + "svg"
        series = [g for g in root.iter(SVG + "g")
                  if g.get("class") == "series"]
        names = [g.get("data-mechanism") for g in series]
        assert sorted(names) == sorted(mechs), names
        for g in series:
            pts = g.findall(SVG + "circle")
            assert pts, g.get("data-mechanism")
        # sysvmq has no point at 16 KiB (n/a): 1 latency + 1 throughput.
        sysv = series[names.index("sysvmq")]
        assert len(sysv.findall(SVG + "circle")) == 2
        assert len(series[names.index("pipe")].findall(SVG + "circle")) == 4
        text = " ".join("".join(t.itertext()) for t in root.iter(SVG + "text"))
        for want in ["ipckit bench", "Latency", "Throughput", "64 B",
                     "16 KiB", "µs", "MB/s"] + mechs:
            assert want in text, want
        assert root.find(SVG + "title").text.startswith("ipckit bench on")
    finally:
        tmp.cleanup()


def test_usage_errors():
    bad = [["--mechanisms", "pipe,bogus"], ["--mechanisms", ""],
           ["--mechanisms", "pipe,pipe"], ["--sizes", "12Q"],
           ["--sizes", "0"], ["--sizes", "65M"], ["--seconds", "0"],
           ["--seconds", "soon"], ["--json", "--csv"], ["--bogus"],
           ["extra"], ["--plot", ""]]
    for args in bad:
        cp = bench(*args)
        assert cp.returncode == 2, (args, cp.returncode, cp.stderr)
        assert cp.stdout == "", (args, cp.stdout)
        lines = cp.stderr.splitlines()
        assert len(lines) == 1 and lines[0].startswith("ipckit bench: "), \
            (args, cp.stderr)
    cp = bench("--mechanisms", "bogus")
    assert "'bogus'" in cp.stderr and "posixmq" in cp.stderr, cp.stderr
    # An unwritable --plot fails before measuring, naming the file.
    cp = bench("--plot", "/nonexistent-dir/x.svg", timeout=10)
    assert cp.returncode == 1, cp.stderr
    assert cp.stderr.startswith("ipckit bench: /nonexistent-dir/x.svg: "), \
        cp.stderr


def children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def interrupt(sig, group, first):
    """Start a long run whose first mechanism is first, wait until a run
    of it holds its objects, send sig (to the process, or to its whole
    process group as a terminal's Ctrl-C does), and check that everything
    it made is gone: objects, temporary files, the plot's temporary file
    and the two forked sides."""
    tmp = TempDir()
    plot = tmp.join("never.svg")
    before = bench_objects()
    env = dict(os.environ, TMPDIR=tmp.path)
    others = [m for m in ("posixmq", "sysvmq", "shm", "fifo", "unix", "file")
              if m != first]
    p = subprocess.Popen(
        [IPCKIT, "bench", "--seconds", "120", "--sizes", "64,1K",
         "--mechanisms", ",".join([first] + others), "--plot", plot],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
        start_new_session=True, text=True)

    def made():
        # Queues and rings by name or key; FIFOs and sockets in TMPDIR
        # (beside the plot's temporary file, made before measuring).
        objs = bench_objects() - before
        files = [n for n in os.listdir(tmp.path) if "never.svg" not in n]
        return objs if first in ("posixmq", "sysvmq", "shm") else files

    try:
        d = Deadline(20)
        # Poll (bounded) until both sides of a run are up with the
        # objects of the first mechanism.
        while not d.expired() and p.poll() is None:
            if made() and len(children(p.pid)) == 2:
                break
            time.sleep(0.002)
        assert made(), f"bench made no {first} object within 20 s"
        kids = children(p.pid)
        if group:
            os.killpg(p.pid, sig)
        else:
            p.send_signal(sig)
        out, err = p.communicate(timeout=15)
        assert p.returncode == 1, (p.returncode, err)
        assert err.strip().splitlines()[-1].startswith(
            "ipckit bench: interrupted"), err
        assert out == "", out
        assert_none_left(before, f"after signal {sig} during {first}")
        assert os.listdir(tmp.path) == [], os.listdir(tmp.path)
        for k in kids:
            assert not os.path.exists(f"/proc/{k}"), f"side {k} survived"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)
        tmp.cleanup()


def test_sigint_during_posixmq():
    interrupt(signal.SIGINT, False, "posixmq")


def test_sigterm_during_sysvmq():
    interrupt(signal.SIGTERM, False, "sysvmq")


def test_sigint_during_shm():
    interrupt(signal.SIGINT, False, "shm")


def test_ctrl_c_to_group_during_fifo():
    interrupt(signal.SIGINT, True, "fifo")


def test_sigterm_during_unix():
    interrupt(signal.SIGTERM, False, "unix")


if __name__ == "__main__":
    harness.run([test_table_and_recommendations, test_na_above_maximum,
                 test_json, test_csv, test_plot_svg, test_usage_errors,
                 test_sigint_during_posixmq, test_sigterm_during_sysvmq,
                 test_sigint_during_shm, test_ctrl_c_to_group_during_fifo,
                 test_sigterm_during_unix], time_limit=90)
