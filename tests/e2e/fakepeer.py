"""fakepeer.py - a scriptable ADC client in Python for bad-peer tests: it
logs in to a hub, answers searches, and then plays a client-client
connection by a script (corrupt data, truncation, lies, traversal
requests, no token).  Tiger and TTH come from rhash, the reference."""
import base64
import os
import secrets
import socket
import subprocess
import tempfile
import threading
import queue

from dcclients import Deadline
from dcclients import unescape as unesc


def b32(data):
    return base64.b32encode(data).decode().rstrip("=")


def unb32(s):
    return base64.b32decode(s + "=" * (-len(s) % 8))


def esc(s):
    return s.replace("\\", "\\\\").replace(" ", "\\s").replace("\n", "\\n")


def _rhash(fmt, paths):
    out = subprocess.run(["rhash", "-p", fmt + "\\n"] + list(paths),
                         check=True, capture_output=True, text=True,
                         timeout=60).stdout
    return out.split()


def tiger(data):
    with tempfile.NamedTemporaryFile() as f:
        f.write(data)
        f.flush()
        return bytes.fromhex(_rhash("%x{tiger}", [f.name])[0])


def tth_leaves(data, block):
    """Root and the block hashes (each block's subtree = its own TTH)."""
    with tempfile.TemporaryDirectory() as d:
        paths = []
        for i in range(0, max(len(data), 1), block):
            p = os.path.join(d, f"{i:012d}")
            with open(p, "wb") as f:
                f.write(data[i:i + block])
            paths.append(p)
        whole = os.path.join(d, "whole")
        with open(whole, "wb") as f:
            f.write(data)
        roots = _rhash("%{tth}", paths + [whole])
    leaves = [unb32(r.upper()) for r in roots[:-1]]
    return unb32(roots[-1].upper()), leaves


class Lines:
    """A socket read as '\\n'-terminated lines, plus raw bytes."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def line(self, timeout=20):
        d = Deadline(timeout)
        while b"\n" not in self.buf:
            self.sock.settimeout(max(d.left(), 0.01))
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode()

    def send(self, line):
        self.sock.sendall((line + "\n").encode())


class FakeClient:
    """Logs in to an ADC hub as an unregistered, active user."""

    def __init__(self, hub_port, nick, udp_port=1):
        self.nick = nick
        self.pid = secrets.token_bytes(24)
        self.cid = b32(tiger(self.pid))
        self.sock = socket.create_connection(("127.0.0.1", hub_port),
                                             timeout=20)
        self.conn = Lines(self.sock)
        self.users = {}
        self.events = queue.Queue()
        self.conn.send("HSUP ADBASE ADTIGR")
        while True:
            line = self.conn.line()
            if line.startswith("ISID "):
                self.sid = line.split()[1]
                break
        self.conn.send(f"BINF {self.sid} ID{self.cid} PD{b32(self.pid)} "
                       f"NI{esc(nick)} I40.0.0.0 U4{udp_port} "
                       "SUADC0,TCP4,UDP4 SS1 SF1 SL1 FS1 HN1 HR0 HO0 "
                       "APfake VE1")
        while True:
            line = self.conn.line()
            self._note(line)
            if line.startswith(f"BINF {self.sid} "):
                break
            if line.startswith("ISTA 2") or line.startswith("IQUI"):
                raise AssertionError(f"fake login refused: {line}")
        self._stop = False
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _note(self, line):
        parts = line.split(" ")
        if parts[0] == "BINF":
            u = self.users.setdefault(parts[1], {})
            for p in parts[2:]:
                u[p[:2]] = unesc(p[2:])

    def _loop(self):
        while not self._stop:
            try:
                line = self.conn.line(timeout=3600)
            except (EOFError, OSError):
                return
            self._note(line)
            self.events.put(line)

    def sid_of(self, nick):
        for sid, u in self.users.items():
            if u.get("NI") == nick:
                return sid
        raise AssertionError(f"{nick} not in the fake's user list")

    def next(self, prefix, timeout=20):
        d = Deadline(timeout)
        while True:
            try:
                line = self.events.get(timeout=max(d.left(), 0.01))
            except queue.Empty:
                raise AssertionError(f"fake: no {prefix} in {timeout}s")
            if line.startswith(prefix):
                return line

    def send(self, line):
        self.conn.send(line)

    def close(self):
        self._stop = True
        try:
            self.sock.close()
        except OSError:
            pass


def named(line, name):
    for p in line.split(" "):
        if p.startswith(name):
            return unesc(p[2:])
    return None
