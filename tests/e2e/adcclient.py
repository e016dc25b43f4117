"""adcclient.py - a small ADC client for the hub's end-to-end tests and the
hand checks in docs/hub.md (standard library only; Tiger comes from
Debian's librhash through ctypes, the same library the hub uses).

    c = AdcClient("127.0.0.1", port)
    sid = c.login("alice", password="secret")
    c.send(f"BMSG {sid} hello")
    c.expect(r"^BMSG \\S+ hello$")
"""
import base64
import ctypes
import ctypes.util
import hashlib
import os
import re
import select
import socket
import ssl
import time

_rhash = ctypes.CDLL(ctypes.util.find_library("rhash") or "librhash.so.0")
_rhash.rhash_library_init()
RHASH_TIGER = 0x10


def tiger(data: bytes) -> bytes:
    out = ctypes.create_string_buffer(64)
    if _rhash.rhash_msg(RHASH_TIGER, data, len(data), out) < 0:
        raise RuntimeError("rhash_msg failed")
    return out.raw[:24]


def b32(data: bytes) -> str:
    return base64.b32encode(data).decode().rstrip("=")


def unb32(text: str) -> bytes:
    return base64.b32decode(text + "=" * (-len(text) % 8))


def esc(s: str) -> str:
    return s.replace("\\", "\\\\").replace(" ", "\\s").replace("\n", "\\n")


def unesc(s: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"s": " ", "n": "\n"}.get(
        m.group(1), m.group(1)), s)


def new_identity():
    """A fresh (PID, CID) pair, base32."""
    pid = os.urandom(24)
    return b32(pid), b32(tiger(pid))


class HubClosed(Exception):
    pass


class AdcClient:
    def __init__(self, host, port, timeout=10.0, tls=False):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.keyprint = None
        if tls:
            # ADC hubs are self-signed: the client pins the keyprint.
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
            self.sock = ctx.wrap_socket(self.sock)
            der = self.sock.getpeercert(binary_form=True)
            self.keyprint = "SHA256/" + b32(hashlib.sha256(der).digest())
        self.timeout = timeout
        self.buf = b""
        self.lines = []  # every line received, in order
        self.pending = []  # received but not yet consumed by expect()
        self.closed = False
        self.sid = None
        self.pid, self.cid = new_identity()

    # ---- bytes ----
    def send_raw(self, data: bytes):
        self.sock.sendall(data)

    def send(self, line: str):
        self.send_raw(line.encode() + b"\n")

    def _fill(self, deadline):
        """Read once (waiting until deadline); False on EOF or timeout."""
        left = max(0.0, deadline - time.monotonic())
        pending = getattr(self.sock, "pending", lambda: 0)()
        if not pending:
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                return False
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
            chunk = b""
        except ssl.SSLWantReadError:
            return True
        if not chunk:
            self.closed = True
            return False
        self.buf += chunk
        while b"\n" in self.buf:
            line, self.buf = self.buf.split(b"\n", 1)
            text = line.decode("utf-8", errors="replace")
            self.lines.append(text)
            self.pending.append(text)
        return True

    def expect(self, pattern, timeout=None):
        """The first pending line matching the regex; earlier pending lines
        are consumed.  Raises AssertionError on timeout or EOF."""
        rx = re.compile(pattern)
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            while self.pending:
                line = self.pending.pop(0)
                if rx.search(line):
                    return line
            if self.closed or time.monotonic() >= deadline:
                raise AssertionError(
                    f"no line matching {pattern!r} "
                    f"({'closed' if self.closed else 'timeout'}); "
                    f"last lines: {self.lines[-8:]}")
            self._fill(deadline)

    def drain(self, quiet=0.2):
        """Take whatever arrives until `quiet` seconds pass with nothing."""
        got = []
        while self._fill(time.monotonic() + quiet):
            pass
        got, self.pending = self.pending, []
        return got

    def wait_closed(self, timeout=None):
        """Read until the hub closes the connection; every line read."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while not self.closed and time.monotonic() < deadline:
            self._fill(deadline)
        if not self.closed:
            raise AssertionError(f"hub did not close; last lines: "
                                 f"{self.lines[-8:]}")
        got, self.pending = self.pending, []
        return got

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    # ---- protocol ----
    def handshake(self):
        self.send("HSUP ADBASE ADTIGR")
        self.expect(r"^ISUP ")
        self.sid = self.expect(r"^ISID ").split()[1]
        self.expect(r"^IINF ")
        return self.sid

    def inf(self, nick, su="TCP4,UDP4,ADC0", i4="0.0.0.0", extra=""):
        line = (f"BINF {self.sid} ID{self.cid} PD{self.pid} NI{esc(nick)} "
                f"DEtest\\sclient SL3 SS1000 SF10 HN1 HR0 HO0 "
                f"APadcclient VE0.1 SU{su}")
        if i4 is not None:
            line += f" I4{i4}"
        if extra:
            line += " " + extra
        self.send(line)

    def login(self, nick, password=None, **inf):
        """Log in; returns our SID after our own BINF came back (the end
        of the user list)."""
        self.nick = nick
        self.handshake()
        self.inf(nick, **inf)
        if password is not None:
            gpa = self.expect(r"^(IGPA |ISTA )")
            if gpa.startswith("ISTA"):
                raise AssertionError(f"login refused: {gpa}")
            self.answer(gpa, password)
        self.expect(rf"^BINF {self.sid} ")
        return self.sid

    def answer(self, gpa_line, password):
        challenge = unb32(gpa_line.split()[1])
        self.send("HPAS " + b32(tiger(password.encode() + challenge)))

    def msg(self, text):
        self.send(f"BMSG {self.sid} {esc(text)}")
