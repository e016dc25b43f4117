#!/usr/bin/env python3
"""test_ratings.py - `ipckit ratings` end to end: results against a plain
reference computed here over generated data sets (dense and sparse ids,
u.data and ratings.csv shapes, several files, CRLF, no final newline,
malformed lines), --via shm and --via mmap equal for -j 1..8, every option,
clear errors, dead workers and signals that leave no IPC object behind."""
import json
import os
import pty
import random
import re
import select
import signal
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IPCKIT, Deadline, Proc, TempDir, ipckit, run  # noqa: E402

RATING_RE = re.compile(r"^([0-9]+)(?:\.([05])0*)?$")
tmp = TempDir()


def ipc_snapshot():
    """System V segments and semaphore sets with key IPC_PRIVATE, the only
    kind `ipckit ratings` makes.  (Other tests running beside this one make
    POSIX objects and keyed System V ones; those are not ours to judge.)"""
    snap = set()
    for kind in ("shm", "sem"):
        with open(f"/proc/sysvipc/{kind}", encoding="ascii") as f:
            next(f)
            for line in f:
                fields = line.split()
                if int(fields[0]) == 0:
                    snap.add((kind, fields[1]))
    return snap


def assert_no_new_ipc(before, what=""):
    new = ipc_snapshot() - before
    assert not new, f"IPC objects left behind {what}: {sorted(new)}"


# --- the reference: straightforward, line by line ----------------------

def ref_line(line, sep):
    """(user, movie, r2) or None for a malformed line."""
    if line.endswith("\r"):
        line = line[:-1]
    f = line.split(sep)
    if len(f) != 4:
        return None
    ids = []
    for x in f[:2]:
        if not x.isdigit() or not x.isascii() or not 0 < int(x) < 2**64:
            return None
        ids.append(int(x))
    m = RATING_RE.match(f[2])
    if not m:
        return None
    r2 = int(m.group(1)) * 2 + (m.group(2) == "5")
    if not 1 <= r2 <= 10:
        return None
    if not (f[3].isdigit() and f[3].isascii()):
        return None
    return ids[0], ids[1], r2


def ref_file(data):
    """Per-file lines: list of (lineno, parsed-or-None); header skipped."""
    text = data.decode("latin-1")
    if text.startswith("\xef\xbb\xbf"):
        text = text[3:]
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    first = 0
    if lines and lines[0][:1] and not lines[0][0].isdigit() and \
            re.search("[A-Za-z]", lines[0]):
        first = 1
    probe = lines[first] if first < len(lines) else (lines[0] if lines else "")
    seps = [c for c in probe if c in "\t,"]
    sep = seps[0] if seps else None
    return [(i + 1, ref_line(lines[i], sep)) for i in range(first, len(lines))]


def mean4(count, sum2):
    m = (sum2 * 10000 + count) // (2 * count)
    return f"{m // 10000}.{m % 10000:04d}"


def reference(files, by="movie", top=0, min_count=0):
    """(tsv text, [(name, lineno)] of malformed lines)."""
    acc, bad = {}, []
    for name in files:
        with open(name, "rb") as f:
            for lineno, row in ref_file(f.read()):
                if row is None:
                    bad.append((name, lineno))
                    continue
                key = row[0] if by == "user" else row[1]
                c, s = acc.get(key, (0, 0))
                acc[key] = (c + 1, s + row[2])
    items = [(k, c, s) for k, (c, s) in acc.items() if c >= min_count]
    if top:
        # Exact comparison of means: s1/c1 > s2/c2.
        from fractions import Fraction
        items.sort(key=lambda x: (-Fraction(x[2], x[1]), -x[1], x[0]))
        items = items[:top]
    else:
        items.sort()
    return "".join(f"{k}\t{c}\t{mean4(c, s)}\n" for k, c, s in items), bad


# --- generated data sets -------------------------------------------------

def write(name, lines, crlf=False, final_newline=True, header=None):
    eol = "\r\n" if crlf else "\n"
    text = eol.join(([header] if header else []) + lines)
    if final_newline:
        text += eol
    path = tmp.join(name)
    with open(path, "wb") as f:
        f.write(text.encode("latin-1"))
    return path


def gen_udata(rnd, n, users=90, movies=300):
    return [f"{rnd.randint(1, users)}\t{rnd.randint(1, movies)}\t"
            f"{rnd.randint(1, 5)}\t{rnd.randint(874724710, 893286638)}"
            for _ in range(n)]


def gen_csv(rnd, n, sparse=False, distinct=500):
    pool = [rnd.randint(1, 2**63) if sparse else rnd.randint(1, 2000)
            for _ in range(distinct)]
    out = []
    for _ in range(n):
        r2 = rnd.randint(1, 10)
        out.append(f"{rnd.choice(pool)},{rnd.choice(pool)},"
                   f"{r2 // 2}.{5 if r2 % 2 else 0},"
                   f"{rnd.randint(789652009, 1574327703)}")
    return out


BAD_LINES = ["", "1,2,3", "0,5,3.0,1", "1,0,3.0,1", "1,2,7.5,9", "1,2,0,9",
             "1,2,3.25,9", "x,2,3.0,9", "1,2,3.0,", "1,2,3.0,9z",
             "1;2;3;4", "1,2,3.0,9,10", "99999999999999999999999,2,3,4"]


def sprinkle(rnd, lines, k, bad=BAD_LINES, sep=","):
    for _ in range(k):
        b = rnd.choice(bad)
        lines.insert(rnd.randrange(len(lines) + 1),
                     b.replace(",", sep) if sep != "," else b)
    return lines


def datasets():
    rnd = random.Random(2026)
    sets = {}
    sets["udata-dense"] = [write("u.data", gen_udata(rnd, 4000))]
    sets["csv-sparse-crlf"] = [write("sparse.csv", gen_csv(
        rnd, 6000, sparse=True, distinct=9000), crlf=True,
        final_newline=False, header="userId,movieId,rating,timestamp")]
    sets["several-mixed"] = [
        write("a.csv", gen_csv(rnd, 1500), header="userId,movieId,rating,"
              "timestamp"),
        write("b.tsv", gen_udata(rnd, 1200, movies=2000),
              final_newline=False),
        write("c.csv", gen_csv(rnd, 900), crlf=True)]
    return sets


SETS = datasets()


def check_output(files, args=(), by="movie", top=0, min_count=0, rc=0):
    want, bad = reference(files, by, top, min_count)
    cp = ipckit("ratings", *args, *files)
    assert cp.returncode == rc, f"exit {cp.returncode}: {cp.stderr}"
    assert cp.stdout == want, (f"ratings {' '.join(args)} differs from the "
                               f"reference ({len(cp.stdout)} vs "
                               f"{len(want)} bytes)")
    return cp, bad


# --- tests ---------------------------------------------------------------

def test_reference_every_jobs_and_via():
    before = ipc_snapshot()
    for name, files in SETS.items():
        for via in ("shm", "mmap"):
            for j in range(1, 9):
                check_output(files, ("--via", via, "-j", str(j)))
    assert_no_new_ipc(before, "after 48 runs")


def test_by_user_top_min_count():
    files = SETS["several-mixed"]
    for j in ("1", "3"):
        check_output(files, ("--by", "user", "-j", j), by="user")
        check_output(files, ("--top", "25", "--min-count", "3", "-j", j),
                     top=25, min_count=3)
        check_output(files, ("--by", "user", "--top", "5", "-j", j),
                     by="user", top=5)
    check_output(files, ("--min-count", "4",), min_count=4)


def test_json():
    files = SETS["udata-dense"]
    want, _ = reference(files)
    cp = ipckit("ratings", "--json", "-j", "2", *files, check=True)
    items = json.loads(cp.stdout)
    got = "".join(f"{d['id']}\t{d['count']}\t{d['mean']:.4f}\n" for d in items)
    assert got == want
    assert re.search(r'"mean":[0-5]\.[0-9]{4}\}', cp.stdout)
    cp = ipckit("ratings", "--json", "--min-count", "999999", *files,
                check=True)
    assert json.loads(cp.stdout) == []


def test_rounding_half_up():
    # 15 ratings of 0.5 and one of 1: mean 17/32 = 0.53125 -> 0.5313.
    path = write("round.tsv", ["1\t42\t0.5\t1"] * 15 + ["2\t42\t1\t2"])
    cp = ipckit("ratings", path, check=True)
    assert cp.stdout == "42\t16\t0.5313\n", cp.stdout


def test_malformed_reported_with_line_numbers():
    rnd = random.Random(7)
    lines = sprinkle(rnd, gen_csv(rnd, 3000), 30)
    path = write("bad.csv", lines, header="userId,movieId,rating,timestamp")
    tsv = write("bad.tsv", sprinkle(rnd, gen_udata(rnd, 500), 3,
                                    ["1\t2\t9\t4", "1\t2\t3"], "\t"))
    files = [path, tsv]
    _, bad = reference(files)
    for j in ("1", "4", "7"):
        cp, _ = check_output(files, ("-j", j), rc=1)
        shown = re.findall(r"^ipckit ratings: (.*?):(\d+): ", cp.stderr, re.M)
        assert [(f, int(n)) for f, n in shown] == bad[:20], cp.stderr
        assert f"{len(bad)} malformed lines skipped" in cp.stderr
        assert f"and {len(bad) - 20} more" in cp.stderr
    cp, _ = check_output(files, ("--lenient", "-j", "3"), rc=0)
    assert "malformed lines skipped" in cp.stderr
    # The reasons are spelled out.
    cp = ipckit("ratings", write("one.csv", ["1,2,7.5,9"]))
    assert cp.returncode == 1
    assert 'one.csv:1: rating outside 0.5-5: "1,2,7.5,9"' in cp.stderr


WORKER_BUF = 256 * 1024  # ratings/worker.c: bytes per read


def test_buffer_and_window_edges():
    """A file larger than a worker's read buffer, of lines the fast path
    meets at every offset: LF and CRLF, ids of 1 to 20 digits, lines
    longer than its 64-byte window, malformed ones, and a last line of
    digits with no newline.  A CRLF line ends with its '\r' on the first
    buffer's last byte and its '\n' on the next one's first, and every -j
    cuts the ranges elsewhere.  Results and reported line numbers match
    the reference for every -j and both --via."""
    rnd = random.Random(64)
    out = []

    def line():
        k = rnd.randrange(12)
        uid = str(rnd.randint(1, 10 ** rnd.choice((1, 6, 8, 9, 19))))
        mid = str(rnd.randint(1, 10 ** rnd.choice((1, 5, 8, 9, 12))))
        r2 = rnd.randint(1, 10)
        rating = f"{r2 // 2}.{5 if r2 % 2 else 0}" if k else str(r2 // 2)
        ts = str(rnd.randint(0, 10 ** rnd.choice((1, 10, 40, 60))))
        text = f"{uid},{mid},{rating},{ts}"
        if k == 1:
            text = rnd.choice(BAD_LINES)
        return text + ("\r\n" if rnd.randrange(3) == 0 else "\n")

    size = 0
    while size < WORKER_BUF - 200:
        out.append(line())
        size += len(out[-1])
    # One CRLF line whose '\r' is the buffer's last byte.
    need = WORKER_BUF - 1 - size - len("7,8,3.5,")
    out.append("7,8,3.5," + "1" * need + "\r\n")
    size += len(out[-1])
    assert size == WORKER_BUF + 1
    while size < 2 * WORKER_BUF + 50000:
        out.append(line())
        size += len(out[-1])
    out.append("5,6,4.5,1234567890")  # no final newline
    path = tmp.join("edges.csv")
    with open(path, "wb") as f:
        f.write("".join(out).encode("ascii"))
    files = [path]
    _, bad = reference(files)
    assert len(bad) > 20
    outs = set()
    for via in ("shm", "mmap"):
        for j in range(1, 9):
            cp, _ = check_output(files, ("--via", via, "-j", str(j)), rc=1)
            shown = re.findall(r"^ipckit ratings: (.*?):(\d+): ", cp.stderr,
                               re.M)
            assert [(f, int(n)) for f, n in shown] == bad[:20], cp.stderr
            assert f"{len(bad)} malformed lines skipped" in cp.stderr
            outs.add(cp.stdout)
    assert len(outs) == 1
    # Keyed by user too (the other id in the fast path's place).
    check_output(files, ("--by", "user", "--lenient", "-j", "3"), by="user")


def test_strict_stops_at_first():
    rnd = random.Random(11)
    lines = gen_csv(rnd, 4000)
    lines[3100] = "1,2,x,3"
    lines[3500] = "1,2,9,3"
    path = write("strict.csv", lines)
    for j in ("1", "2", "5", "8"):
        cp = ipckit("ratings", "--strict", "-j", j, path)
        assert cp.returncode == 1
        assert cp.stdout == ""
        reported = re.findall(r":(\d+): ", cp.stderr)
        assert reported == ["3101"], cp.stderr
        assert "--strict" in cp.stderr


def test_stdin_and_dash():
    files = SETS["udata-dense"]
    want, _ = reference(files)
    with open(files[0], "rb") as f:
        data = f.read()
    # A pipe (a stream, one worker) and a redirected file (split).
    cp = subprocess.run([IPCKIT, "ratings", "-j", "3"], input=data,
                        capture_output=True, timeout=30)
    assert cp.returncode == 0 and cp.stdout.decode() == want
    with open(files[0], "rb") as f:
        cp = subprocess.run([IPCKIT, "ratings", "-j", "4", "-"], stdin=f,
                            capture_output=True, timeout=30)
    assert cp.returncode == 0 and cp.stdout.decode() == want
    # A file someone has read part of: the rest, as cat would.
    first = data[:data.index(b"\n") + 1]
    fd = os.open(files[0], os.O_RDONLY)
    try:
        os.lseek(fd, len(first), os.SEEK_SET)
        cp = subprocess.run([IPCKIT, "ratings", "-j", "2"], stdin=fd,
                            capture_output=True, timeout=30)
    finally:
        os.close(fd)
    rest = tmp.join("rest.tsv")
    with open(rest, "wb") as f:
        f.write(data[len(first):])
    assert cp.returncode == 0
    assert cp.stdout.decode() == reference([rest])[0]
    # stdin with files: one data set.
    other = SETS["several-mixed"]
    want2, _ = reference(files + other)
    cp = subprocess.run([IPCKIT, "ratings", "-j", "2", "-"] + other,
                        input=data, capture_output=True, timeout=30)
    assert cp.returncode == 0 and cp.stdout.decode() == want2
    cp = subprocess.run([IPCKIT, "ratings", "-", "-"], input=b"",
                        capture_output=True, timeout=30)
    assert cp.returncode == 1 and b"given twice" in cp.stderr
    cp = subprocess.run([IPCKIT, "ratings"], input=b"", capture_output=True,
                        timeout=30)
    assert cp.returncode == 1 and b"stdin: empty input" in cp.stderr


def test_output_file():
    files = SETS["udata-dense"]
    want, _ = reference(files)
    out = tmp.join("out.tsv")
    with open(out, "w") as f:
        f.write("old contents\n")
    cp = ipckit("ratings", "-o", out, *files, check=True)
    assert cp.stdout == ""
    with open(out) as f:
        assert f.read() == want
    assert not [n for n in os.listdir(tmp.path) if ".tmp-" in n]
    cp = ipckit("ratings", "-o", tmp.join("no/such/dir/x"), *files)
    assert cp.returncode == 1 and "No such file" in cp.stderr


def test_output_not_a_regular_file():
    """-o on a FIFO (as on /dev/null) writes into it: renaming a file over
    it would replace the node itself."""
    files = SETS["udata-dense"]
    want, _ = reference(files)
    fifo = tmp.join("out.fifo")
    os.mkfifo(fifo)
    # A reader first, so that ratings' open() does not wait; the result
    # is smaller than the pipe's buffer.
    rfd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        cp = ipckit("ratings", "-o", fifo, *files, check=True)
        assert cp.stdout == ""
        assert stat.S_ISFIFO(os.stat(fifo).st_mode)
        got = b""
        while True:
            try:
                chunk = os.read(rfd, 65536)
            except BlockingIOError:
                break
            if not chunk:
                break
            got += chunk
        assert got.decode() == want
    finally:
        os.close(rfd)
        os.unlink(fifo)
    assert not [n for n in os.listdir(tmp.path) if ".tmp-" in n]
    cp = ipckit("ratings", "-o", tmp.path, *files)
    assert cp.returncode == 1 and "Is a directory" in cp.stderr
    assert os.path.isdir(tmp.path)


def test_input_errors_leave_no_ipc():
    before = ipc_snapshot()
    empty = write("empty", [], final_newline=False)
    os.makedirs(tmp.join("adir"), exist_ok=True)
    spaces = write("spaces.txt", ["1 2 3 4"])
    header_only = write("h.csv", [], header="userId,movieId,rating,timestamp")
    for args, text in (([tmp.join("missing.csv")], "No such file"),
                       ([tmp.join("adir")], "is a directory"),
                       ([empty], "empty file"),
                       ([spaces], "no tab or comma"),
                       ([SETS["udata-dense"][0], empty], "empty file")):
        cp = ipckit("ratings", *args)
        assert cp.returncode == 1, args
        assert text in cp.stderr, cp.stderr
        assert cp.stdout == ""
        assert len(cp.stderr.strip().splitlines()) == 1, cp.stderr
    cp = ipckit("ratings", header_only, check=True)
    assert cp.stdout == ""
    for bad in (["--via", "pipe"], ["-j", "0"], ["--by", "genre"],
                ["--strict", "--lenient"], ["--top", "x"], ["--bogus"]):
        cp = ipckit("ratings", *bad, empty)
        assert cp.returncode == 2, (bad, cp.returncode)
    assert_no_new_ipc(before)


def children(pid):
    """Pids whose parent is pid."""
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    kids.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return kids


def start_on_fifo(via, extra=(), **kw):
    """ipckit ratings reading a FIFO: returns (proc, write fd) once the
    worker has opened the FIFO (our open() returns only then)."""
    fifo = tmp.join(f"fifo-{os.getpid()}-{random.randrange(1 << 30)}")
    os.mkfifo(fifo)
    p = Proc([IPCKIT, "ratings", "--via", via, *extra, fifo], **kw)
    fd = os.open(fifo, os.O_WRONLY)
    os.unlink(fifo)
    os.write(fd, b"1\t2\t3\t4\n" * 1000)
    return p, fd


def test_killed_worker_fails_cleanly():
    for via in ("shm", "mmap"):
        before = ipc_snapshot()
        p, fd = start_on_fifo(via)
        kids = children(p.pid)
        assert len(kids) == 1, kids
        os.kill(kids[0], signal.SIGKILL)
        rc = p.wait(20)
        os.close(fd)
        err = p.stderr_text()
        assert rc == 1, (rc, err)
        assert "killed by signal 9" in err and "no results" in err, err
        assert p.p.stdout.read() == b""
        assert_no_new_ipc(before, f"after a killed worker ({via})")


def test_worker_dies_mid_stream():
    # Enough distinct ids for several mailboxes; worker 0 dies after its
    # first one (a test-only hook), and no partial result comes out.
    rnd = random.Random(5)
    files = [write("many.csv", gen_csv(rnd, 24000, sparse=True,
                                       distinct=30000))]
    for via in ("shm", "mmap"):
        # Before reading, after one of its ~3 mailboxes, after its last.
        for hook in ("0:0", "0:1", "1:3"):
            before = ipc_snapshot()
            cp = ipckit("ratings", "--via", via, "-j", "2", *files,
                        env={"IPCKIT_RATINGS_FAULT": hook})
            assert cp.returncode == 1, (hook, cp.stderr)
            assert cp.stdout == ""
            assert "killed by signal 9" in cp.stderr, cp.stderr
            assert_no_new_ipc(before, f"after hook {hook} ({via})")


def test_signals_clean_up():
    for via in ("shm", "mmap"):
        for sig in (signal.SIGINT, signal.SIGTERM):
            before = ipc_snapshot()
            p, fd = start_on_fifo(via)
            kids = children(p.pid)
            p.signal(sig)
            rc = p.wait(20)
            os.close(fd)
            assert rc == -sig, (rc, p.stderr_text())
            assert p.p.stdout.read() == b""
            for k in kids:
                assert not os.path.exists(f"/proc/{k}/stat") or \
                    open(f"/proc/{k}/stat").read().split()[2] in "ZX"
            assert_no_new_ipc(before, f"after {sig.name} ({via})")


def test_progress_only_on_a_terminal():
    master, slave = pty.openpty()
    try:
        piped, fd_p = start_on_fifo("mmap", ("--progress", "auto"))
        tty, fd_t = start_on_fifo("mmap", ("--progress", "auto"),
                                  stderr=slave)
        os.close(slave)
        slave = -1
        seen = b""
        d = Deadline(20)
        while b"ratings" not in seen and not d.expired():
            r, _, _ = select.select([master], [], [], d.left())
            if r:
                seen += os.read(master, 4096)
        assert b"\rratings" in seen and b"MB" in seen, seen
        os.close(fd_t)
        os.close(fd_p)
        assert tty.wait(20) == 0
        assert piped.wait(20) == 0
        assert piped.p.stdout.read() == b"2\t1000\t3.0000\n"
        assert piped.stderr_text() == ""
    finally:
        if slave != -1:
            os.close(slave)
        os.close(master)


if __name__ == "__main__":
    try:
        run([test_reference_every_jobs_and_via, test_by_user_top_min_count,
             test_json, test_rounding_half_up,
             test_malformed_reported_with_line_numbers,
             test_buffer_and_window_edges, test_strict_stops_at_first, test_stdin_and_dash,
             test_output_file, test_output_not_a_regular_file,
             test_input_errors_leave_no_ipc,
             test_killed_worker_fails_cleanly, test_worker_dies_mid_stream,
             test_signals_clean_up, test_progress_only_on_a_terminal],
            time_limit=120)
    finally:
        tmp.cleanup()
