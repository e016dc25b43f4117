#!/usr/bin/env python3
"""End-to-end: `ipckit send` and `ipckit recv` as real processes over every
mechanism (fifo, sysvmq by key and by path, posixmq, shm, file, unix,
unix:@abstract, unix+seqpacket, tcp and udp on 127.0.0.1): arguments, stdin
lines, --raw and --file, binary and empty messages, the largest message
and one byte more, -n, --timeout (exit 3), --json, escaping, the seed's
System V examples (typed sends, the 0 / N / -N selector), POSIX
priorities, a durable file queue read by a receiver started later, and
usage errors (exit 2, one line).  Each test leaves no IPC object."""
import base64
import json
import os
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from cliutil import Lines, Scope, run_ipckit  # noqa: E402

IPCKIT = harness.IPCKIT
SEQPACKET_MAX = None


def seqpacket_max():
    with open("/proc/sys/net/core/wmem_default", encoding="ascii") as f:
        return int(f.read()) - 33


def sysv_max():
    with open("/proc/sys/kernel/msgmax", encoding="ascii") as f:
        return int(f.read())


class Mech:
    """One mechanism under fresh names: where send and recv go, whether
    recv listens (a connection) and the largest message."""

    def __init__(self, scope, kind):
        self.kind = kind
        self.scope = scope
        self.listens = kind in ("unix", "abstract", "seqpacket", "tcp",
                                "udp")
        s = scope
        if kind == "fifo":
            self.addr, self.max = f"fifo:{s.path('f')}", 16 << 20
        elif kind == "sysvmq":
            self.addr, self.max = f"sysvmq:{s.key()}", sysv_max()
        elif kind == "sysvmq-path":
            self.addr, self.max = f"sysvmq:{s.ftok_path()}", sysv_max()
        elif kind == "posixmq":
            self.addr = f"posixmq:/{s.name('mq')}?msgsize=4096"
            self.max = 4096
        elif kind == "shm":
            self.addr = f"shm:{s.name('ring')}?capacity=64k"
            self.max = 16384
        elif kind == "file":
            self.addr = f"file:{s.path('q.ipk')}?size=64k&sync=1"
            self.max = 65536 - 16
        elif kind == "unix":
            self.addr, self.max = f"unix:{s.path('s.sock')}", 16 << 20
        elif kind == "abstract":
            self.addr, self.max = f"unix:@{s.name('abs')}", 16 << 20
        elif kind == "seqpacket":
            self.addr = f"unix+seqpacket:{s.path('p.sock')}"
            self.max = seqpacket_max()
        elif kind == "tcp":
            self.addr, self.max = "tcp:127.0.0.1:0", 16 << 20
        elif kind == "udp":
            self.addr, self.max = "udp:127.0.0.1:0", 65507
        else:
            raise ValueError(kind)

    def transfer(self, send_args, recv_args, data=None, send_rc=0):
        """recv (started first: it listens, or makes the queue) and send
        with send_args (stdin: data).  (recv's rc, stdout, stderr)."""
        addr = self.addr
        r = Lines([IPCKIT, "recv", "--ready-fd", "3"] + recv_args +
                  [("listen:" if self.listens else "") + addr],
                  stdin=None, ready=True)
        try:
            if self.listens:
                addr = r.ready.split()[1]
            rc, _, err = run_ipckit("send", addr, *send_args, data=data)
            assert send_rc is None or rc == send_rc, \
                f"send {send_args} {addr}: {rc} {err}"
            rrc = r.finish(30)
            return rrc, r.buf[r.out_fd], r.err()
        finally:
            r.kill()

    def cleanup(self):
        """Remove a queue kept because it held messages when made."""
        if self.kind in ("sysvmq", "sysvmq-path"):
            self.scope.remove_sysv()
        elif self.kind == "posixmq":
            _unlink("/dev/mqueue/" + self.addr.split("/")[1].split("?")[0])
        elif self.kind == "shm":
            name = self.addr.split(":")[1].split("?")[0]
            _unlink("/dev/shm/ipk-shm." + name)
        elif self.kind == "file":
            _unlink(self.addr[5:].split("?")[0])


def _unlink(p):
    try:
        os.unlink(p)
    except FileNotFoundError:
        pass


KINDS = ["fifo", "sysvmq", "sysvmq-path", "posixmq", "shm", "file", "unix",
         "abstract", "seqpacket", "tcp", "udp"]


def each_kind(fn):
    """Run fn(mech) for every mechanism, each in a Scope checked after."""
    for kind in KINDS:
        s = Scope()
        m = Mech(s, kind)
        try:
            fn(m)
        except AssertionError as e:
            raise AssertionError(f"[{kind}] {e}") from e
        finally:
            m.cleanup()
        s.check()


def test_arguments_and_empty_messages():
    def one(m):
        rc, out, err = m.transfer(["one", "", "two words", "x\\y"],
                                  ["-n", "4"])
        assert rc == 0, err
        assert out == b"one\n\ntwo words\nx\\\\y\n", out
    each_kind(one)


def test_stdin_lines_raw_and_file():
    def one(m):
        # Each line one message, the last one without its newline too.
        rc, out, err = m.transfer([], ["-n", "3", "--json"],
                                  data=b"alpha\n\nomega")
        assert rc == 0, err
        got = [json.loads(x) for x in out.decode().splitlines()]
        assert [g["data"] for g in got] == ["alpha", "", "omega"], got
        assert [g["size"] for g in got] == [5, 0, 5], got
        # --raw: all of stdin, binary, newlines kept, one message.
        blob = bytes(range(256)) * 3 + b"\n\n"
        rc, out, err = m.transfer(["--raw"], ["-n", "1", "--raw"],
                                  data=blob)
        assert rc == 0 and out == blob, (rc, err, len(out))
        # --file, read back as JSON with base64 (not UTF-8).
        f = m.scope.path("payload.bin")
        with open(f, "wb") as fh:
            fh.write(b"\x00\xff\xfe binary \x00")
        rc, out, err = m.transfer(["--file", f], ["-n", "1", "--json"])
        assert rc == 0, err
        obj = json.loads(out)
        assert base64.b64decode(obj["base64"]) == b"\x00\xff\xfe binary \x00"
        assert obj["size"] == 12 and "data" not in obj, obj
        # An empty --raw message is a message.
        rc, out, err = m.transfer(["--raw"], ["-n", "1", "--json"],
                                  data=b"")
        assert rc == 0 and json.loads(out)["size"] == 0, (out, err)
    each_kind(one)


def test_largest_message_and_one_more():
    def one(m):
        big = m.scope.path("max.bin")
        with open(big, "wb") as fh:
            fh.write(os.urandom(m.max))
        rc, out, err = m.transfer(["--file", big], ["-n", "1", "--raw"])
        assert rc == 0, err
        with open(big, "rb") as fh:
            assert out == fh.read(), (len(out), m.max)
        with open(big, "ab") as fh:
            fh.write(b"+")
        # One byte more: refused whole, with one line naming the address
        # and the limit; the receiver sees nothing of it, and a message
        # sent afterwards arrives.
        addr = m.addr
        r = Lines([IPCKIT, "recv", "--ready-fd", "3", "-n", "1", "--json",
                   ("listen:" if m.listens else "") + addr],
                  stdin=None, ready=True)
        try:
            if m.listens:
                addr = r.ready.split()[1]
            rc, _, err = run_ipckit("send", "--file", big, addr)
            assert rc == 1, (rc, err)
            assert err.count("\n") == 1, err
            assert "Message too long" in err and str(m.max) in err, err
            assert err.startswith(f"ipckit send: {addr}: "), err
            if m.listens:
                # The connection ended without a message.  A listener
                # that accepted it before it closed ends by itself (exit
                # 1); one that accepts it after takes it for a probe (a
                # connection that closes unused, as `ipckit ls` makes)
                # and goes on waiting, and nothing tells a UDP receiver
                # the sender left: stop those.  Either way: exit 1 and
                # nothing printed.
                r.signal(signal.SIGINT)
                assert r.finish() == 1 and r.out() == "", r.out()
                return
            rc, _, err = run_ipckit("send", addr, "after")
            assert rc == 0, err
            assert r.finish() == 0, r.err()
            assert json.loads(r.out())["data"] == "after", r.out()
        finally:
            r.kill()
    each_kind(one)


def test_count_timeout_and_escaping():
    def one(m):
        rc, out, err = m.transfer(
            ["--raw"], ["-n", "1"],
            data="tab\there\r\nnul\x00bell\x07 é ✓ \x7f\\".encode())
        assert rc == 0, err
        assert out == ("tab\\there\\r\\nnul\\x00bell\\x07 é ✓ \\x7f\\\\\n"
                       .encode()), out
        # Invalid UTF-8 and C1 controls byte by byte.
        rc, out, err = m.transfer(["--raw"], ["-n", "1"],
                                  data=b"\xc3(\xc2\x85")
        assert rc == 0 and out == b"\\xc3(\\xc2\\x85\n", out
        # -n stops after N even when more come.
        if m.kind != "udp":
            # A connection may end before "c" is sent: send exits 1.
            rc, out, err = m.transfer(["a", "b", "c"], ["-n", "2"],
                                      send_rc=None if m.listens else 0)
            assert rc == 0 and out == b"a\nb\n", (out, err)
            m.cleanup()  # "c" stays in a queue
    each_kind(one)


def test_order_kept_in_a_queue_send_made():
    """send makes the queue, leaves three messages and goes; a receiver
    started later gets them in the order sent (send must not look into
    the queue at exit: a taken-and-requeued message would come last)."""
    for kind in ("sysvmq", "sysvmq-path", "posixmq", "shm", "file"):
        s = Scope()
        m = Mech(s, kind)
        try:
            rc, _, err = run_ipckit("send", m.addr, "first", "second",
                                    "third")
            assert rc == 0, (kind, err)
            rc, out, err = run_ipckit("recv", "-n", "3", "--timeout",
                                      "5000", m.addr)
            assert rc == 0 and out == b"first\nsecond\nthird\n", \
                (kind, out, err)
        finally:
            m.cleanup()
        s.check()


def test_timeout_exit_3():
    s = Scope()
    try:
        for addr in (f"sysvmq:{s.key()}", f"posixmq:/{s.name('t')}",
                     f"shm:{s.name('t')}", f"fifo:{s.path('tf')}",
                     f"file:{s.path('tq')}", "listen:tcp:127.0.0.1:0"):
            rc, out, err = run_ipckit("recv", "--timeout", "200", addr)
            assert rc == 3, (addr, rc, err)
            assert out == b"" and err.count("\n") == 1, (addr, err)
            assert addr in err, err
        # The queues recv made for the wait are gone; a file queue is
        # durable by design, so it stays (ipckit rm removes it).
        _unlink(s.path("tq"))
        # No listener is a failure at once, said once.
        rc, out, err = run_ipckit("recv", "--timeout", "200",
                                  f"unix:{s.path('none.sock')}")
        assert rc == 1 and err.count("No such file") == 1, (rc, err)
    finally:
        s.check()


def test_seed_typed_sysv_and_selector():
    """Seed 000's csend/crecv (key 1234, type 77, "Hello") and the msgrcv
    selector: 0 the first, N the first of type N, -N the lowest type up
    to N (oldest first among equals); seed 004's type 1 message."""
    s = Scope()
    q = f"sysvmq:{s.key()}"
    try:
        rc, _, err = run_ipckit("send", q, "--type", "77", data=b"Hello\n")
        assert rc == 0, err
        rc, out, err = run_ipckit("recv", q, "--type", "77", "-n", "1",
                                  "--json")
        assert rc == 0, err
        assert json.loads(out) == {"type": 77, "priority": 0, "size": 5,
                                   "data": "Hello"}, out
        for t, text in ((5, "five-a"), (3, "three"), (9, "nine"),
                        (5, "five-b"), (1, "one"), (12, "twelve")):
            rc, _, err = run_ipckit("send", "--type", t, q, text)
            assert rc == 0, err

        def take(sel):
            rc, out, err = run_ipckit("recv", q, "--type", sel, "-n", "1",
                                      "--json", "--timeout", "5000")
            assert rc == 0, err
            o = json.loads(out)
            return o["type"], o["data"]

        assert take(5) == (5, "five-a")      # first of type 5
        assert take(-6) == (1, "one")        # lowest type <= 6
        assert take(-6) == (3, "three")
        assert take(-6) == (5, "five-b")
        assert take(0) == (9, "nine")        # first in the queue
        rc, _, err = run_ipckit("recv", q, "--type", "-11", "--timeout",
                                "100")
        assert rc == 3, (rc, err)            # only type 12 is left
        assert take(12) == (12, "twelve")
        # Seed 004: a child's type-1 message taken by type 1.
        rc, _, err = run_ipckit("send", "--type", "1", q, "Hello, world.")
        assert take(1) == (1, "Hello, world.")
        # --type where there are no types is a usage error.
        rc, _, err = run_ipckit("send", "--type", "3",
                                f"posixmq:/{s.name('nt')}", "x")
        assert rc == 2 and err.count("\n") == 1, (rc, err)
    finally:
        s.remove_sysv()
        s.check()


def test_typed_sysv_receiver_waiting():
    """A receiver waiting for type 2 ignores type 1 and gets its own."""
    s = Scope()
    q = f"sysvmq:{s.ftok_path()}"
    r = Lines([IPCKIT, "recv", "--ready-fd", "3", "--type", "2", "-n", "1",
               q], stdin=None, ready=True)
    try:
        assert run_ipckit("send", "--type", "1", q, "not-yours")[0] == 0
        assert run_ipckit("send", "--type", "2", q, "yours")[0] == 0
        assert r.finish() == 0, r.err()
        assert r.out() == "yours\n", r.out()
        rc, out, _ = run_ipckit("recv", q, "-n", "1")
        assert rc == 0 and out == b"not-yours\n"
    finally:
        r.kill()
        # The waiting recv made the queue but left it holding "not-yours"
        # for someone: a mailbox stays while it holds messages.
        s.remove_sysv()
        s.check()


def test_posixmq_priorities():
    s = Scope()
    q = f"posixmq:/{s.name('prio')}"
    try:
        for prio, text in ((0, "low-a"), (9, "urgent"), (3, "mid"),
                           (0, "low-b"), (9, "urgent-2")):
            rc, _, err = run_ipckit("send", "--prio", prio, q, text)
            assert rc == 0, err
        rc, out, err = run_ipckit("recv", "--json", "-n", "5", q)
        assert rc == 0, err
        got = [(o["priority"], o["data"])
               for o in map(json.loads, out.decode().splitlines())]
        assert got == [(9, "urgent"), (9, "urgent-2"), (3, "mid"),
                       (0, "low-a"), (0, "low-b")], got
    finally:
        _unlink(f"/dev/mqueue/{s.name('prio')}")
        s.check()


def test_file_queue_is_durable():
    """Messages sent into a file queue with nobody reading wait there: a
    receiver started later gets them all, in order."""
    s = Scope()
    q = f"file:{s.path('durable.ipk')}?sync=1"
    try:
        rc, _, err = run_ipckit("send", q, data=b"m1\nm2\nm3\n")
        assert rc == 0, err
        assert os.path.exists(s.path("durable.ipk"))
        rc, out, err = run_ipckit("recv", q, "-n", "3", "--timeout", "5000")
        assert rc == 0 and out == b"m1\nm2\nm3\n", (out, err)
    finally:
        _unlink(s.path("durable.ipk"))
        s.check()


def test_fifo_send_waits_for_a_reader():
    """Into a FIFO, send stays until its bytes are read (the kernel drops
    them with the last opener); with --timeout it gives up with exit 3."""
    s = Scope()
    q = f"fifo:{s.path('w')}"
    try:
        rc, _, err = run_ipckit("send", "--timeout", "300", q, "lost?")
        assert rc == 3 and err.count("\n") == 1, (rc, err)
        assert not os.path.exists(s.path("w")), "FIFO left behind"
        sender = Lines([IPCKIT, "send", q, "kept"], stdin=None)
        try:
            rc, out, err = run_ipckit("recv", "-n", "1", "--timeout",
                                      "20000", q)
            assert rc == 0 and out == b"kept\n", (rc, out, err)
            assert sender.finish() == 0, sender.err()
        finally:
            sender.kill()
    finally:
        s.check()


def test_recv_ends_on_signal_and_connection_end():
    s = Scope()
    try:
        r = Lines([IPCKIT, "recv", "--ready-fd", "3",
                   f"sysvmq:{s.key()}"], stdin=None, ready=True)
        r.signal(signal.SIGINT)
        assert r.finish() == 0, r.err()
        r = Lines([IPCKIT, "recv", "--ready-fd", "3",
                   f"listen:unix:{s.path('end.sock')}"], stdin=None,
                  ready=True)
        rc, _, err = run_ipckit("send", f"unix:{s.path('end.sock')}", "x")
        assert rc == 0, err
        assert r.finish() == 0 and r.out() == "x\n", r.err()
        assert not os.path.exists(s.path("end.sock"))
    finally:
        s.check()


def test_usage_errors():
    for args in (["send"], ["recv"], ["recv", "a:1", "b:2"],
                 ["recv", "--raw", "--json", "sysvmq:1"],
                 ["send", "--raw", "sysvmq:1", "extra"],
                 ["send", "--prio", "x", "posixmq:/a"],
                 ["recv", "-n", "-3", "sysvmq:1"],
                 ["send", "nosuchscheme:x", "m"],
                 ["send", "--bogus", "sysvmq:1"],
                 ["recv", "listen:sysvmq:1"]):
        rc, out, err = run_ipckit(*args)
        assert rc == 2, (args, rc, err)
        assert err.count("\n") == 1 and out == b"", (args, err)
    rc, out, err = run_ipckit("send", "--help")
    assert rc == 0 and b"--prio" in out, err


if __name__ == "__main__":
    harness.run([test_arguments_and_empty_messages,
                 test_stdin_lines_raw_and_file,
                 test_largest_message_and_one_more,
                 test_count_timeout_and_escaping,
                 test_order_kept_in_a_queue_send_made,
                 test_timeout_exit_3,
                 test_seed_typed_sysv_and_selector,
                 test_typed_sysv_receiver_waiting,
                 test_posixmq_priorities,
                 test_file_queue_is_durable,
                 test_fifo_send_waits_for_a_reader,
                 test_recv_ends_on_signal_and_connection_end,
                 test_usage_errors], time_limit=240)
