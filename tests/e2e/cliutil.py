"""cliutil.py - what the test_cli_*.py files share beyond harness.py:
addresses of every mechanism under fresh names, a process whose output is
read line by line with a deadline, and a check that a test left no IPC
object of its own behind (other engineers' tests run on the same machine,
so only objects named by this test count)."""
import os
import select
import signal
import socket
import struct
import subprocess

import harness
from harness import IPCKIT, Deadline


class Scope:
    """Fresh names for one test, and the check that none of them is left:
    a TempDir, the System V keys handed out, and the POSIX names (which
    all carry this scope's tag)."""

    def __init__(self):
        self.tmp = harness.TempDir()
        self.tag = harness.fresh_name("s")
        self.keys = set()
        self.paths = []  # ftok files: their keys are known once made
        self.before = harness.ipc_snapshot()

    def key(self):
        k = harness.fresh_key()
        self.keys.add(k)
        return k

    def ftok_path(self, name="q"):
        """A file for sysvmq:PATH; its ftok key (proj 1) is watched."""
        p = self.tmp.join(name)
        with open(p, "w", encoding="ascii") as f:
            f.write("ftok\n")
        st = os.stat(p)
        self.keys.add((1 << 24) | ((st.st_dev & 0xff) << 16) |
                      (st.st_ino & 0xffff))
        return p

    def name(self, what):
        return f"{self.tag}-{what}"

    def path(self, what):
        return self.tmp.join(what)

    def sysv_left(self):
        left = []
        with open("/proc/sysvipc/msg", encoding="ascii") as f:
            next(f)
            for line in f:
                fields = line.split()
                if int(fields[0]) in self.keys:
                    left.append(("msg", fields[0], fields[1]))
        return left

    def left(self):
        """Objects of this test present now and not before."""
        new = harness.ipc_snapshot() - self.before
        mine = [o for o in new if o[0].startswith("/dev/") and
                self.tag in o[1]]
        return mine + self.sysv_left()

    def remove_sysv(self):
        """Remove this test's System V queues (for tests whose queues
        stay by design: a mailbox that still holds messages)."""
        for _, key, _ in self.sysv_left():
            subprocess.run(["ipcrm", "-Q", key], check=False,
                           capture_output=True, timeout=10)

    def check(self):
        left = self.left()
        self.tmp.cleanup()
        assert not left, f"IPC objects left behind: {left}"


def run_ipckit(*args, data=None, timeout=30):
    """ipckit to completion with bytes in and out: (rc, stdout, stderr)."""
    cp = subprocess.run([IPCKIT] + [str(a) for a in args], input=data,
                        capture_output=True, timeout=timeout)
    return cp.returncode, cp.stdout, cp.stderr.decode(errors="replace")


class Lines:
    """A process whose stdout (and stderr) is read as it comes; every wait
    for a line is bounded.  stdin is a pipe unless given."""

    def __init__(self, argv, stdin=subprocess.PIPE, ready=False, env=None,
                 start_new_session=False):
        self.argv = [str(a) for a in argv]
        kwargs = {}
        rfd = wfd = None
        if ready:
            rfd, wfd = os.pipe()
            kwargs["pass_fds"] = (3,)
            kwargs["preexec_fn"] = lambda: os.dup2(wfd, 3)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.p = subprocess.Popen(self.argv, stdin=stdin,
                                  stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, env=full_env,
                                  start_new_session=start_new_session,
                                  **kwargs)
        self.out_fd = self.p.stdout.fileno()
        self.err_fd = self.p.stderr.fileno()
        self.buf = {self.out_fd: b"", self.err_fd: b""}
        self.eof = set()
        self.ready = None
        if ready:
            os.close(wfd)
            try:
                # harness reads the ready line the same way for Proc.
                self.ready = harness.Proc._read_line(self, rfd, 20)
            finally:
                os.close(rfd)
            if self.ready is None:
                self.kill()
                raise AssertionError(f"{self.argv[1:4]} not ready: "
                                     f"{self.err()}")

    def _pump(self, seconds):
        fds = [fd for fd in self.buf if fd not in self.eof]
        if self.p.stdout.closed:
            return False
        if not fds:
            return False
        r, _, _ = select.select(fds, [], [], seconds)
        for fd in r:
            chunk = os.read(fd, 65536)
            if chunk:
                self.buf[fd] += chunk
            else:
                self.eof.add(fd)
        return bool(r)

    def out(self):
        return self.buf[self.out_fd].decode(errors="replace")

    def err(self):
        return self.buf[self.err_fd].decode(errors="replace")

    def wait_for(self, text, seconds=20, stream="out"):
        """Wait until text appears in stdout (or stderr); the output."""
        d = Deadline(seconds)
        get = self.out if stream == "out" else self.err
        while text not in get():
            if d.expired() or (not self._pump(d.left()) and
                               len(self.eof) == 2):
                raise AssertionError(
                    f"{self.argv[1:3]}: no {text!r} in {stream} within "
                    f"{seconds}s; out={self.out()!r} err={self.err()!r}")
        return get()

    def write(self, data):
        self.p.stdin.write(data if isinstance(data, bytes)
                           else data.encode())
        self.p.stdin.flush()

    def close_stdin(self):
        self.p.stdin.close()

    def signal(self, sig=signal.SIGINT):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def finish(self, seconds=20):
        """Read to the end and reap: the exit code (never waits past the
        deadline; raises AssertionError then)."""
        d = Deadline(seconds)
        while len(self.eof) < 2 and not d.expired():
            self._pump(d.left())
        try:
            return self.p.wait(timeout=max(0.1, d.left()))
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"{self.argv[1:3]} did not end within "
                                 f"{seconds}s; out={self.out()!r} "
                                 f"err={self.err()!r}")

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for f in (self.p.stdin, self.p.stdout, self.p.stderr):
            if f:
                try:
                    f.close()
                except OSError:
                    pass


def frame(msg):
    return struct.pack(">I", len(msg)) + msg


class Framed:
    """A stream socket (or a pair of pipe descriptors) carrying framed
    messages; every read has a deadline."""

    def __init__(self, sock=None, rfd=None, wfd=None):
        self.sock = sock
        self.rfd = rfd if sock is None else sock.fileno()
        self.wfd = wfd if sock is None else sock.fileno()
        self.buf = b""

    def send(self, msg):
        data = frame(msg)
        while data:
            n = os.write(self.wfd, data)
            data = data[n:]

    def _fill(self, d):
        r, _, _ = select.select([self.rfd], [], [], d.left())
        if not r:
            raise AssertionError("no message in time")
        chunk = os.read(self.rfd, 65536)
        if not chunk:
            raise EOFError
        self.buf += chunk

    def recv(self, seconds=20):
        d = Deadline(seconds)
        while len(self.buf) < 4:
            self._fill(d)
        n = struct.unpack(">I", self.buf[:4])[0]
        while len(self.buf) < 4 + n:
            self._fill(d)
        msg, self.buf = self.buf[4:4 + n], self.buf[4 + n:]
        return msg

    def at_eof(self, seconds=20):
        """True when the other side closes (after any pending bytes)."""
        d = Deadline(seconds)
        try:
            while True:
                self._fill(d)
        except EOFError:
            return True


def connect(addr):
    scheme, rest = addr.split(":", 1)
    if scheme == "tcp":
        host, port = rest.rsplit(":", 1)
        s = socket.create_connection((host, int(port)), timeout=20)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(20)
        s.connect(rest)
    s.settimeout(None)
    return Framed(sock=s)
