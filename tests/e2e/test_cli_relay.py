#!/usr/bin/env python3
"""End-to-end: `ipckit relay A B` between unlike mechanisms, with real
peers on both sides: System V queues <-> TCP, FIFOs <-> a UNIX socket,
POSIX queue -> shared-memory ring and back, UNIX socket <-> TCP, and
standard input/output (pipe:) <-> TCP.  The peers on sockets are Python
sockets speaking the stream framing (a 4-byte big-endian length before
each message), so ipckit is checked against an independent reader.  Each
relay prints its counts on exit and ends on SIGINT, SIGTERM and when its
connection ends; no IPC object is left."""
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from cliutil import Framed, Lines, Scope, connect, run_ipckit  # noqa: E402

IPCKIT = harness.IPCKIT


def relay(*args):
    return Lines([IPCKIT, "relay", "--ready-fd", "3"] + list(args),
                 stdin=None, ready=True)


def test_sysvmq_tcp_both_ways():
    s = Scope()
    q, back = f"sysvmq:{s.key()}", f"sysvmq:{s.key()}"
    r = relay(q, "listen:tcp:127.0.0.1:0", "--back", back)
    try:
        words = r.ready.split()
        assert words[1] == q and words[3] == back, r.ready
        peer = connect(words[2])
        # Seed 000's typed send, carried to TCP.
        assert run_ipckit("send", "--type", "77", q, "Hello")[0] == 0
        assert run_ipckit("send", "--raw", q, data=b"\x00bin\xff")[0] == 0
        assert peer.recv() == b"Hello"
        assert peer.recv() == b"\x00bin\xff"
        peer.send(b"from tcp")
        peer.send(b"")
        rc, out, err = run_ipckit("recv", "-n", "2", "--json", back,
                                  "--timeout", "20000")
        assert rc == 0, err
        assert out.decode().splitlines() == [
            '{"type":1,"priority":0,"size":8,"data":"from tcp"}',
            '{"type":1,"priority":0,"size":0,"data":""}'], out
        peer.sock.close()  # the connection ends: so does the relay
        assert r.finish() == 0, r.err()
        err = r.err()
        assert err.count("\n") == 1, err
        assert f"{q} -> {words[2]}: 2 messages, 10 bytes" in err, err
        assert f"-> {back}: 2 messages, 8 bytes" in err, err
        assert "ended" in err, err
    finally:
        r.kill()
        s.check()  # both queues were the relay's, and are empty


def test_fifo_unix_both_ways_sigterm():
    s = Scope()
    f_in, f_back = f"fifo:{s.path('in')}", f"fifo:{s.path('back')}"
    sock = s.path("relay.sock")
    r = relay(f_in, f"listen:unix:{sock}", "--back", f_back)
    try:
        peer = connect(f"unix:{sock}")
        rc, _, err = run_ipckit("send", f_in, "one", "two",
                                "--timeout", "20000")
        assert rc == 0, err
        assert peer.recv() == b"one" and peer.recv() == b"two"
        peer.send(b"back 1")
        peer.send(b"back \\ 2")
        rc, out, err = run_ipckit("recv", "-n", "2", f_back)
        assert rc == 0 and out == b"back 1\nback \\\\ 2\n", (out, err)
        r.signal(signal.SIGTERM)
        assert r.finish() == 0, r.err()
        assert "2 messages, 6 bytes" in r.err(), r.err()
        assert "2 messages, 14 bytes" in r.err(), r.err()
        assert "Terminated" in r.err(), r.err()
        assert peer.at_eof(), "the relay's connection stayed open"
        for p in ("in", "back", "relay.sock"):
            assert not os.path.exists(s.path(p)), p
    finally:
        r.kill()
        s.check()


def test_posixmq_shm_each_way_sigint():
    s = Scope()
    mq = f"posixmq:/{s.name('mq')}?msgsize=1024"
    ring = f"shm:{s.name('ring')}?capacity=64k"
    try:
        for prio, text in ((1, "b"), (5, "a"), (0, "c")):
            assert run_ipckit("send", "--prio", prio, mq, text)[0] == 0
        r = relay(mq, ring)
        try:
            rc, out, err = run_ipckit("recv", "-n", "3", ring)
            assert rc == 0 and out == b"a\nb\nc\n", (out, err)
            r.signal(signal.SIGINT)
            assert r.finish() == 0, r.err()
            assert "3 messages, 3 bytes" in r.err(), r.err()
            assert "Interrupt" in r.err(), r.err()
        finally:
            r.kill()
        # The other way: the ring to the queue.
        assert run_ipckit("send", ring, "x", "yz")[0] == 0
        r = relay(ring, mq)
        try:
            rc, out, err = run_ipckit("recv", "-n", "2", "--json", mq)
            assert rc == 0, err
            assert out.decode().splitlines() == [
                '{"type":0,"priority":0,"size":1,"data":"x"}',
                '{"type":0,"priority":0,"size":2,"data":"yz"}'], out
            r.signal(signal.SIGINT)
            assert r.finish() == 0 and "2 messages, 3 bytes" in r.err()
        finally:
            r.kill()
    finally:
        for p in (f"/dev/mqueue/{s.name('mq')}",
                  f"/dev/shm/ipk-shm.{s.name('ring')}"):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        s.check()


def test_unix_tcp_connections_end_together():
    s = Scope()
    sock = s.path("u.sock")
    r = relay(f"listen:unix:{sock}", "listen:tcp:127.0.0.1:0")
    try:
        a = connect(f"unix:{sock}")
        b = connect(r.ready.split()[2])
        a.send(b"a->b")
        b.send(b"b->a")
        assert b.recv() == b"a->b" and a.recv() == b"b->a"
        # Messages sent just before the close still arrive.
        for i in range(50):
            a.send(b"burst %d" % i)
        a.sock.close()
        for i in range(50):
            assert b.recv() == b"burst %d" % i
        assert b.at_eof(), "the other connection stayed open"
        assert r.finish() == 0, r.err()
        assert "51 messages" in r.err() and "ended" in r.err(), r.err()
        assert not os.path.exists(sock)
    finally:
        r.kill()
        s.check()


def test_pipe_stdio_to_tcp():
    """pipe: is the relay's own standard input and output, framed."""
    s = Scope()
    r = Lines([IPCKIT, "relay", "--ready-fd", "3", "pipe:",
               "listen:tcp:127.0.0.1:0"], ready=True)
    try:
        peer = connect(r.ready.split()[2])
        me = Framed(rfd=r.out_fd, wfd=r.p.stdin.fileno())
        # The relay's stdout is read by Framed, not by Lines.
        r.eof.add(r.out_fd)
        me.send(b"via pipe")
        assert peer.recv() == b"via pipe"
        peer.send(b"to pipe")
        assert me.recv() == b"to pipe"
        r.close_stdin()  # the pipe ends: the relay ends, TCP closes
        assert peer.at_eof()
        assert r.finish() == 0, r.err()
        assert "1 messages, 8 bytes" in r.err(), r.err()
    finally:
        r.kill()
        s.check()


def test_usage_errors():
    for args in (["relay"], ["relay", "sysvmq:1"],
                 ["relay", "sysvmq:1", "sysvmq:2", "sysvmq:3"],
                 ["relay", "--back", "sysvmq:3", "tcp:127.0.0.1:1",
                  "sysvmq:2"],
                 ["relay", "--timeout", "soon", "sysvmq:1", "sysvmq:2"]):
        rc, out, err = run_ipckit(*args)
        assert rc == 2 and err.count("\n") == 1, (args, rc, err)
    # A connection that cannot be made: one line, exit 1; nothing made.
    s = Scope()
    try:
        rc, _, err = run_ipckit("relay", f"sysvmq:{s.key()}",
                                f"unix:{s.path('none.sock')}")
        assert rc == 1 and err.count("\n") == 1, (rc, err)
    finally:
        s.check()


if __name__ == "__main__":
    harness.run([test_sysvmq_tcp_both_ways,
                 test_fifo_unix_both_ways_sigterm,
                 test_posixmq_shm_each_way_sigint,
                 test_unix_tcp_connections_end_together,
                 test_pipe_stdio_to_tcp,
                 test_usage_errors], time_limit=120)
