#!/usr/bin/env python3
"""End-to-end: `ipckit exec ADDR -- CMD`, a real coprocess over two pipes:
`tr a-z A-Z` behind a TCP listener, `awk` between System V types, `sed
-u` between POSIX queues, `pipe:` (exec's own stdin and stdout), a
coprocess that exits early or fails, one that never reads its input
(Ctrl-C still ends both, nothing wedges), output without a trailing
newline, messages that hold newlines, a command that does not exist, and
usage errors.  No IPC object is left."""
import os
import signal
import socket
import sys
import threading

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from cliutil import Framed, Lines, Scope, connect, run_ipckit  # noqa: E402

IPCKIT = harness.IPCKIT


def execp(*args):
    return Lines([IPCKIT, "exec", "--ready-fd", "3"] + list(args),
                 stdin=None, ready=True)


def test_tr_over_tcp():
    """tr writes its output in blocks to a pipe: with stdbuf -oL each line
    comes back at once; plain tr answers when its input ends (the TCP
    peer half-closes), and exec still sends it all back."""
    s = Scope()
    x = execp("listen:tcp:127.0.0.1:0", "--", "stdbuf", "-oL", "tr",
              "a-z", "A-Z")
    try:
        peer = connect(x.ready.split()[1])
        peer.send(b"hello")
        assert peer.recv() == b"HELLO"
        peer.send(b"two\nlines")  # a newline inside: two lines out
        assert peer.recv() == b"TWO" and peer.recv() == b"LINES"
        peer.send(b"")
        assert peer.recv() == b""
        peer.sock.shutdown(socket.SHUT_RDWR)
        assert peer.at_eof()
        assert x.finish() == 0, x.err()
        assert x.err() == ""
    finally:
        x.kill()
    x = execp("listen:tcp:127.0.0.1:0", "--until", "EOF", "--", "tr",
              "a-z", "A-Z")
    try:
        peer = connect(x.ready.split()[1])
        for m in (b"one", b"two", b"three", b"EOF"):
            peer.send(m)  # EOF ends tr's input, not the connection
        assert [peer.recv() for _ in range(3)] == [b"ONE", b"TWO",
                                                    b"THREE"]
        assert peer.at_eof()
        assert x.finish() == 0, x.err()
    finally:
        x.kill()
        s.check()


def test_awk_between_sysv_types():
    """One System V queue: type 1 in, type 2 back (seed 000's typed
    queue as a request/reply channel), ended by --until."""
    s = Scope()
    q = f"sysvmq:{s.key()}"
    x = execp(q, "--type", "1", "--reply-type", "2", "--until", "quit",
              "--", "mawk", "-W", "interactive",
              "{ print NR \": \" toupper($0) }")
    try:
        for m in ("alpha", "beta gamma"):
            assert run_ipckit("send", "--type", "1", q, m)[0] == 0
        rc, out, err = run_ipckit("recv", "--type", "2", "-n", "2", q,
                                  "--timeout", "20000")
        assert rc == 0 and out == b"1: ALPHA\n2: BETA GAMMA\n", (out, err)
        assert run_ipckit("send", "--type", "1", q, "quit")[0] == 0
        assert x.finish() == 0, x.err()
        # exec made the queue and removes it empty, unless the sender of
        # "quit" (System V's last sender) was still alive at that moment:
        # then it stays, empty, for someone who may still use it.
        with open("/proc/sysvipc/msg", encoding="ascii") as f:
            rows = [r.split() for r in f if r.split()[0] == q[7:]]
        assert all(r[4] == "0" for r in rows), rows
    finally:
        x.kill()
        s.remove_sysv()
        s.check()


def test_sed_between_posix_queues_count():
    s = Scope()
    small = "?maxmsg=4&msgsize=256"  # root's 800 KiB quota is shared
    qin = f"posixmq:/{s.name('in')}{small}"
    qout = f"posixmq:/{s.name('out')}{small}"
    try:
        rc, _, err = run_ipckit("send", qin, "a cat", "a bat", "a rat")
        assert rc == 0, err
        x = execp(qin, "--reply", qout, "-n", "2", "--", "sed", "-u",
                  "s/a/the/")
        try:
            assert x.finish() == 0, x.err()
        finally:
            x.kill()
        rc, out, err = run_ipckit("recv", "-n", "2", qout)
        assert rc == 0 and out == b"the cat\nthe bat\n", (out, err)
        # -n 2 took two: the third is still queued for someone.
        rc, out, err = run_ipckit("recv", "-n", "1", qin)
        assert rc == 0 and out == b"a rat\n", (out, err)
    finally:
        for n in ("in", "out"):
            try:
                os.unlink(f"/dev/mqueue/{s.name(n)}")
            except FileNotFoundError:
                pass
        s.check()


def test_pipe_stdio_and_output_without_newline():
    """pipe: is exec's own stdin/stdout; the last line of output without
    a newline still goes back as a message."""
    x = Lines([IPCKIT, "exec", "pipe:", "--", "awk",
               "{ printf \"%s|\", $0 } END { printf \"end\" }"])
    try:
        x.eof.add(x.out_fd)  # read by Framed below
        me = Framed(rfd=x.out_fd, wfd=x.p.stdin.fileno())
        me.send(b"x")
        me.send(b"y")
        x.close_stdin()
        assert me.recv() == b"x|y|end"
        assert x.finish() == 0, x.err()
    finally:
        x.kill()


def test_coprocess_exits_early_and_fails():
    s = Scope()
    q = f"sysvmq:{s.key()}"
    try:
        # head reads one line and exits while input is still coming.
        assert run_ipckit("send", "--type", "1", q, "l1", "l2", "l3")[0] == 0
        x = execp(q, "--type", "1", "--reply-type", "2", "--", "head",
                  "-n", "1")
        try:
            rc, out, err = run_ipckit("recv", "--type", "2", "-n", "1", q,
                                      "--timeout", "20000")
            assert rc == 0 and out == b"l1\n", (out, err)
            assert x.finish() == 0, x.err()
        finally:
            x.kill()
        s.remove_sysv()
        # A failing coprocess makes exec fail, saying how.
        rc, out, err = run_ipckit("exec", "listen:unix:@" + s.name("f"),
                                  "--timeout", "100", "--", "sh", "-c",
                                  "exit 4")
        assert rc == 3, (rc, err)  # nobody connected within 100 ms
        x = execp(f"listen:unix:{s.path('f.sock')}", "--", "sh", "-c",
                  "read line; exit 4")
        try:
            peer = connect(f"unix:{s.path('f.sock')}")
            peer.send(b"go")
            assert x.finish() == 1
            assert x.err() == "ipckit exec: sh: exited with status 4\n", \
                x.err()
            assert peer.at_eof()
        finally:
            x.kill()
    finally:
        s.remove_sysv()
        s.check()


def test_coprocess_that_never_reads():
    """Its stdin is never read: exec keeps taking its output, stops
    taking input once a bound is queued, and Ctrl-C ends it and the
    coprocess without wedging."""
    s = Scope()
    x = execp("listen:tcp:127.0.0.1:0", "--", "sh", "-c",
              "echo $$; exec sleep 600")
    writer = None
    try:
        peer = connect(x.ready.split()[1])
        pid = int(peer.recv())
        blob = b"z" * 65536

        def flood():
            try:
                for _ in range(64):  # 4 MiB: more than exec will queue
                    peer.send(blob)
            except OSError:
                pass

        writer = threading.Thread(target=flood, daemon=True)
        writer.start()
        x.signal(signal.SIGINT)
        assert x.finish() == 0, x.err()
        # exec reaped it before exiting: it is gone, not reparented.
        assert not os.path.exists(f"/proc/{pid}"), f"{pid} outlived exec"
    finally:
        x.kill()
        if writer:
            writer.join(timeout=10)
        s.check()


def test_command_not_found_and_usage():
    s = Scope()
    q, r = f"sysvmq:{s.key()}", f"sysvmq:{s.key()}"
    try:
        rc, out, err = run_ipckit("exec", q, "--reply", r, "--",
                                  "ipk-no-such-command")
        assert rc == 1 and err.count("\n") == 1, (rc, err)
        assert "ipk-no-such-command" in err, err
        for args in (["exec"], ["exec", "tcp:127.0.0.1:1"],
                     ["exec", "tcp:127.0.0.1:1", "--"],
                     ["exec", q, "--", "cat"],  # a queue needs --reply
                     ["exec", "--count", "x", q, "--", "cat"]):
            rc, out, err = run_ipckit(*args)
            assert rc == 2 and err.count("\n") == 1, (args, rc, err)
    finally:
        s.check()  # queues exec made are gone again


if __name__ == "__main__":
    harness.run([test_tr_over_tcp,
                 test_awk_between_sysv_types,
                 test_sed_between_posix_queues_count,
                 test_pipe_stdio_and_output_without_newline,
                 test_coprocess_exits_early_and_fails,
                 test_coprocess_that_never_reads,
                 test_command_not_found_and_usage], time_limit=60)
