#!/usr/bin/env python3
"""End-to-end: bench/ipc/ipc-bench interrupted mid-run (Ctrl-C, SIGTERM)
removes what its runs made: the raw rows' private System V queues (which
nothing can mark for removal) and POSIX queues, and exits 1 with one line.
The like-for-like rows (library with timeout -1 against blocking raw calls,
library with a deadline against raw calls that poll first) give figures
and their ratios.
Usage: test_ipc_bench.py PATH-TO-ipc-bench"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402

BENCH = sys.argv[1] if len(sys.argv) > 1 else "ipc-bench"


def private_queues():
    """msqids of System V queues with key 0 (IPC_PRIVATE)."""
    with open("/proc/sysvipc/msg", encoding="ascii") as f:
        next(f)
        return {int(line.split()[1]) for line in f
                if int(line.split()[0]) == 0}


def bench_mqueues(pid):
    return [n for n in os.listdir("/dev/mqueue")
            if n.startswith(f"ipk-bench-raw-{pid}-")]


def interrupt(row, sig, made):
    """Run only `row` for many rounds, wait until made(pid) sees its
    objects, send sig, and check it ends with status 1 and nothing of it
    is left."""
    p = subprocess.Popen([BENCH, "-f", row, "-r", "60", "-t", "1"],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        d = harness.Deadline(30)
        while not made(p.pid) and not d.expired() and p.poll() is None:
            time.sleep(0.002)  # polling kernel state, bounded
        assert made(p.pid), f"{row}: no object seen"
        p.send_signal(sig)
        _, err = p.communicate(timeout=30)
        err = err.decode(errors="replace")
        assert p.returncode == 1, (p.returncode, err)
        assert err.strip().splitlines()[-1].startswith(
            "ipc-bench: interrupted"), err
        assert not made(p.pid), f"{row}: objects left behind"
    finally:
        if p.poll() is None:
            p.kill()
            p.wait(timeout=10)


def test_ctrl_c_removes_private_sysv_queues():
    before = private_queues()
    interrupt("raw sysv", signal.SIGINT,
              lambda pid: bool(private_queues() - before))


def test_sigterm_removes_posix_queues():
    interrupt("raw posix", signal.SIGTERM,
              lambda pid: bool(bench_mqueues(pid)))


def test_like_for_like_rows_measure():
    rows = ["pipe", "pipe (wait -1)", "raw pipe", "raw pipe + poll",
            "posixmq", "posixmq (wait -1)", "raw posix mq",
            "raw posix mq + poll"]
    p = subprocess.run([BENCH, "-f", ",".join(rows), "-r", "1", "-t",
                        "0.05"], capture_output=True, timeout=120,
                       check=False)
    out = p.stdout.decode(errors="replace")
    assert p.returncode == 0, (p.returncode, out, p.stderr)
    lines = out.splitlines()
    for row in rows:
        # The name, then a p50 in microseconds: a number, not "error".
        hit = [ln for ln in lines if ln.startswith(row + "  ")]
        assert len(hit) == 1, (row, out)
        p50 = hit[0][len(row):].split()[0]
        assert float(p50) > 0, (row, hit[0])
    for a, b in [("pipe", "raw pipe + poll"), ("pipe (wait -1)", "raw pipe"),
                 ("posixmq", "raw posix mq + poll"),
                 ("posixmq (wait -1)", "raw posix mq")]:
        assert any(ln.split(" vs ")[0].strip() == a and
                   ln.split(" vs ")[1].startswith(b + " ") and
                   "latency p50" in ln for ln in lines
                   if " vs " in ln), (a, b, out)


def syscall_counts(row):
    """System calls of a one-round run of `row`, both sides (strace -c)."""
    # LeakSanitizer cannot run under ptrace (the sanitizer build); the
    # other tests here run the bench with it.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(
        x for x in (env.get("ASAN_OPTIONS"), "detect_leaks=0") if x)
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "counts")
        p = subprocess.run(["strace", "-f", "-c", "-o", out, "-e",
                            "trace=poll,ppoll,read,readv,preadv2", BENCH,
                            "-f", row, "-r", "1", "-t", "0.05"],
                           capture_output=True, timeout=120, check=False,
                           env=env)
        assert p.returncode == 0, (p.returncode, p.stderr)
        counts = {}
        with open(out, encoding="ascii") as f:
            for ln in f:
                w = ln.split()
                if len(w) >= 5 and w[3].isdigit():
                    counts[w[-1]] = int(w[3])
        return counts


def test_wait_forever_row_blocks_in_the_read():
    """`pipe (wait -1)` receives with timeout -1: one blocking read per
    message, no poll() (a receive with a deadline on a pipe polls first
    whenever the pipe was empty, as every ping-pong receive finds it)."""
    c = syscall_counts("pipe (wait")
    reads = c.get("readv", 0) + c.get("read", 0) + c.get("preadv2", 0)
    polls = c.get("poll", 0) + c.get("ppoll", 0)
    assert reads > 1000, c
    assert polls < reads / 20, c


if __name__ == "__main__":
    harness.run([test_ctrl_c_removes_private_sysv_queues,
                 test_sigterm_removes_posix_queues,
                 test_like_for_like_rows_measure,
                 test_wait_forever_row_blocks_in_the_read], time_limit=150)
