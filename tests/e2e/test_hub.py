"""test_hub.py - the real hub (ipckit hub) against our ADC test client:
every error path (bad password, duplicate nick, spoofed SID, PD/ID
mismatch, overlong line, bad escape, invalid UTF-8, flood, slow reader,
login timeout, kick/ban, registered-only) and chat, PM, search routing,
CTM/RCM, history replay, SIGHUP reload and graceful shutdown.

Run as "test_hub.py no-uring" it sets IPCKIT_HUB_NO_URING, so the hub
writes with one system call a write instead of io_uring batches: meson runs
it both ways (tests/e2e/meson.build)."""
import os
import signal
import socket
import stat
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import IPCKIT, Deadline, Proc, TempDir, ipckit, run  # noqa: E402
from adcclient import AdcClient, esc, unesc  # noqa: E402

NO_URING = sys.argv[1:] == ["no-uring"]
if NO_URING:
    os.environ["IPCKIT_HUB_NO_URING"] = "1"  # the hubs started inherit it

ACCOUNTS = "alice alicepw admin\nOscar oscarpw op\nbob bobpw user\n" \
           "carol carolpw user\n"


class Hub:
    def __init__(self, settings=None, accounts=ACCOUNTS, tmp=None):
        self.tmp = tmp or TempDir()
        self.db = self.tmp.join("hub.db")
        self.conf = self.tmp.join("hub.conf")
        if accounts and not os.path.exists(self.db):
            ipckit("hub", "user", "import", "--db", self.db,
                   input=accounts, check=True)
        base = {"listen": "127.0.0.1:0", "db": self.db,
                "chat_flood": "0/1", "login_timeout": "10"}
        base.update(settings or {})
        self.write_conf(base)
        self.start()

    def write_conf(self, settings):
        with open(self.conf, "w") as f:
            for k, v in settings.items():
                f.write(f'{k} = "{v}"\n')

    def start(self):
        self.log_path = self.tmp.join("hub.log")
        self.log = open(self.log_path, "ab")
        self.proc = Proc([IPCKIT, "hub", "--config", self.conf,
                          "--ready-fd", "3"], ready=True, stderr=self.log)
        assert self.proc.ready.startswith("ready adc://127.0.0.1:"), \
            self.proc.ready
        self.port = int(self.proc.ready.rsplit(":", 1)[1])

    def client(self, tls=False):
        return AdcClient("127.0.0.1", self.port, tls=tls)

    def login(self, nick, password=None, tls=False, **kw):
        c = self.client(tls)
        c.login(nick, password, **kw)
        return c

    def log_text(self):
        self.log.flush()
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def stop(self, sig=signal.SIGTERM):
        self.proc.signal(sig)
        rc = self.proc.wait(timeout=20)
        self.log.close()
        return rc

    def cleanup(self):
        if self.proc.p.poll() is None:
            assert self.stop() == 0, self.log_text()
        self.tmp.cleanup()


def with_hub(settings=None):
    def wrap(fn):
        def test():
            hub = Hub(settings)
            try:
                fn(hub)
            finally:
                hub.cleanup()
        test.__name__ = fn.__name__
        return test
    return wrap


@with_hub()
def test_chat_pm_and_leave(hub):
    a = hub.login("alice", "alicepw")
    b = hub.login("bob", "bobpw")
    a.expect(rf"^BINF {b.sid} .*NIbob")
    a.msg("hello bob")
    assert b.expect(r"^BMSG ") == f"BMSG {a.sid} hello\\sbob"
    a.expect(rf"^BMSG {a.sid} hello")  # B comes back to the sender
    b.send(f"EMSG {b.sid} {a.sid} psst PM{b.sid}")
    a.expect(rf"^EMSG {b.sid} {a.sid} psst PM{b.sid}$")
    b.expect(rf"^EMSG {b.sid} {a.sid} psst")  # echoed
    b.close()
    a.expect(rf"^IQUI {b.sid}$")
    log = hub.log_text()
    assert "login alice (admin)" in log and "logout bob" in log, log


@with_hub()
def test_user_list_and_inf(hub):
    a = hub.login("alice", "alicepw")
    g = hub.client()
    g.handshake()
    g.inf("guest", extra="CT4")
    lst = [g.expect(r"^BINF ")]
    lst.append(g.expect(r"^BINF "))
    assert lst[0].startswith(f"BINF {a.sid} ") and " CT20" in lst[0]
    assert lst[1].startswith(f"BINF {g.sid} ")  # own INF last
    assert " PD" not in lst[1] and " CT" not in lst[1]
    assert "I4127.0.0.1" in lst[1]


@with_hub()
def test_search_and_connect_routing(hub):
    active = hub.login("alice", "alicepw")
    other = hub.login("bob", "bobpw")
    passive = hub.login("carol", "carolpw", su="ADC0,NAT0")
    for c in (active, other, passive):
        c.drain(0.1)
    # EiskaltDC++ style: one FSCH per kind of recipient
    active.send(f"FSCH {active.sid} +TCP4 ANmusic TOtok1")
    other.expect(r"^FSCH .* TOtok1")
    active.send(f"FSCH {active.sid} +NAT0 ANmusic TOtok2")
    passive.expect(r"^FSCH .* TOtok2")
    # ncdc style
    passive.send(f"BSCH {passive.sid} ANlinux TOtok3")
    for c in (active, other, passive):
        c.expect(r"^BSCH .* TOtok3")
    # a passive searcher gets results through the hub
    active.send(f"DRES {active.sid} {passive.sid} FN/share/linux.iso "
                f"SI100 SL3 TOtok3")
    passive.expect(rf"^DRES {active.sid} {passive.sid} FN/share/linux.iso")
    # CTM (active), RCM (passive asks the active one)
    other.send(f"DCTM {other.sid} {active.sid} ADC/1.0 41234 ctok")
    active.expect(rf"^DCTM {other.sid} {active.sid} ADC/1.0 41234 ctok$")
    passive.send(f"DRCM {passive.sid} {active.sid} ADC/1.0 rtok")
    active.expect(rf"^DRCM {passive.sid} {active.sid} ADC/1.0 rtok$")
    # too short a search is refused with a reason
    active.send(f"BSCH {active.sid} ANab TOshort")
    active.expect(r"^ISTA 100 Search\\signored")
    assert not any("TOshort" in x for x in other.drain(0.2))


@with_hub()
def test_bad_password(hub):
    c = hub.client()
    c.handshake()
    c.inf("bob")
    c.answer(c.expect(r"^IGPA "), "not-the-password")
    c.expect(r"^ISTA 223 Password\\sis\\swrong$")
    c.expect(rf"^IQUI {c.sid} MSPassword\\sis\\swrong$")
    c.wait_closed()
    log = hub.log_text()
    assert "wrong password" in log and "not-the-password" not in log
    assert "bobpw" not in log


@with_hub()
def test_fresh_challenges(hub):
    seen = set()
    for _ in range(4):
        c = hub.client()
        c.handshake()
        c.inf("bob")
        gpa = c.expect(r"^IGPA ")
        assert len(gpa.split()[1]) == 39  # 24 bytes
        seen.add(gpa)
        c.close()
    assert len(seen) == 4


@with_hub()
def test_duplicate_nick_and_cid(hub):
    a = hub.login("alice", "alicepw")
    g = hub.login("guest")
    c = hub.client()
    c.handshake()
    c.inf("GUEST")
    c.expect(r"^ISTA 222 ")
    c.wait_closed()
    c = hub.client()
    c.pid, c.cid = g.pid, g.cid
    c.handshake()
    c.inf("other")
    c.expect(r"^ISTA 224 ")
    c.wait_closed()
    assert a.drain(0.1) is not None


@with_hub()
def test_spoofed_sid(hub):
    a = hub.login("alice", "alicepw")
    b = hub.login("bob", "bobpw")
    a.drain(0.1)
    b.send(f"BMSG {a.sid} i\\sam\\salice")
    b.expect(r"^ISTA 240 ")
    b.wait_closed()
    got = a.drain(0.3)
    assert not any("i\\sam\\salice" in x for x in got), got
    assert f"IQUI {b.sid}" in got
    # in IDENTIFY too: an INF with someone else's SID
    c = hub.client()
    c.handshake()
    c.sid = a.sid
    c.inf("mallory")
    c.expect(r"^ISTA 240 ")
    c.wait_closed()


@with_hub()
def test_pd_id_mismatch_and_address(hub):
    c = hub.client()
    c.pid = "SBPWJFDD6BQCDQ4PB3L4XC7UG6NCOG4PDVXS7WI"
    c.handshake()
    c.inf("mallory")
    c.expect(r"^ISTA 227 ")
    c.wait_closed()
    c = hub.client()
    c.handshake()
    c.inf("mallory", i4="203.0.113.9")
    c.expect(r"^ISTA 246 .* I4127.0.0.1$")
    c.wait_closed()


@with_hub({"max_line_bytes": "1024"})
def test_overlong_line(hub):
    a = hub.login("alice", "alicepw")
    a.drain(0.1)
    a.send_raw(b"BMSG " + a.sid.encode() + b" " + b"x" * 2000)
    a.expect(r"^ISTA 240 line\\slonger\\sthan\\smax_line_bytes")
    a.wait_closed()


@with_hub()
def test_bad_escape_and_utf8(hub):
    a = hub.login("alice", "alicepw")
    b = hub.login("bob", "bobpw")
    a.drain(0.1)
    a.send(f"BMSG {a.sid} bad\\xescape")
    a.expect(r"^ISTA 140 .*unknown\\sescape")
    a.send_raw(f"BMSG {a.sid} ".encode() + b"\xc3\x28 broken\n")
    a.send(f"BMSG {a.sid} still\\shere")
    b.expect(r"^BMSG .* still\\shere$")
    got = [x for x in b.lines if "bad" in x or "broken" in x]
    assert not got, got
    assert "Invalid message ignored" in unesc(" ".join(a.lines))


@with_hub({"chat_flood": "5/60"})
def test_flood(hub):
    a = hub.login("alice", "alicepw")
    b = hub.login("bob", "bobpw")
    b.drain(0.1)
    for i in range(10):
        a.msg(f"flood {i}")
    a.expect(r"^ISTA 100 Flood\\slimit")
    b.expect(r"flood\\s4$")
    assert not any("flood\\s5" in x for x in b.drain(0.3))
    try:
        for i in range(100):
            a.msg(f"more {i}")
    except (BrokenPipeError, ConnectionResetError):
        pass  # the hub hung up on us mid-flood, as it should
    a.expect(r"^ISTA 230 flooding")
    a.wait_closed()
    b.expect(rf"^IQUI {a.sid}$")


@with_hub({"max_send_queue": "65536"})
def test_slow_reader(hub):
    a = hub.login("alice", "alicepw")
    b = hub.login("bob", "bobpw")
    b.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    big = "y" * 8000
    sent = 0
    d = Deadline(30)
    # direct messages to bob, who never reads; alice is not echoed
    while not d.expired() and sent < 20000:
        a.send(f"DMSG {a.sid} {b.sid} {big}")
        sent += 1
        if sent % 200 == 0 and "reading too slowly" in hub.log_text():
            break
    a.expect(rf"^IQUI {b.sid}$", timeout=15)
    assert "reading too slowly" in hub.log_text()
    # the hub is still fine
    c = hub.login("carol", "carolpw")
    c.msg("after")
    a.expect(r"after$")


@with_hub()
def test_output_path(hub):
    a = hub.login("alice", "alicepw")
    a.msg("hi")
    a.expect(r"hi$")
    log = hub.log_text()
    if NO_URING:
        assert "output: one system call a write (IPCKIT_HUB_NO_URING is " \
            "set)" in log, log
    else:  # io_uring, or the fallback with the kernel's reason
        assert "output: io_uring, up to 1024 writes" in log or \
            "output: one system call a write (io_uring: " in log, log


@with_hub({"max_send_queue": str(64 << 20)})
def test_backlog_drains_whole_and_in_order(hub):
    """A reader that stops reading gets a queue of many slices beyond what
    the kernel buffers (tcp_wmem's 4 MiB here): writes refused (EAGAIN) and
    short, several slices a write, EPOLLOUT.  When it reads again every
    line arrives once, whole and in order."""
    a = hub.login("alice", "alicepw")
    b = hub.login("bob", "bobpw")
    n, pad = 3000, "z" * 4000  # 12 MB
    for i in range(n):
        a.msg(f"line{i:05d}{pad}")
        if i % 100 == 99:  # alice reads her echoes: she is no slow reader
            a.expect(rf"line{i:05d}")
    for i in range(n):
        line = b.expect(r"^BMSG ", timeout=20)
        assert line == f"BMSG {a.sid} line{i:05d}{pad}", (i, line[:80])
    b.msg("done")
    a.expect(r"done$")
    assert "reading too slowly" not in hub.log_text()


@with_hub({"login_timeout": "1"})
def test_login_timeout(hub):
    c = hub.client()
    c.send("HSUP ADBASE ADTIGR")  # and then nothing
    got = c.wait_closed(timeout=10)
    assert any("login\\stimeout" in x for x in got), got
    # a connection that never says anything is closed too
    s = socket.create_connection(("127.0.0.1", hub.port), timeout=10)
    assert s.recv(100).startswith(b"ISTA 240 login")
    s.close()


@with_hub()
def test_kick_and_ban(hub):
    a = hub.login("alice", "alicepw")
    b = hub.login("bob", "bobpw")
    g = hub.login("guest")
    g.msg("!kick bob")
    g.expect(r"^IMSG !kick:\\sonly\\sops\\smay")
    a.msg("!kick bob be nice")
    b.expect(rf"^IQUI {b.sid} ID{a.sid} MSKicked\\sby\\salice:\\sbe\\snice$")
    b.wait_closed()
    g.expect(rf"^IQUI {b.sid} ID{a.sid} MS")
    b = hub.login("bob", "bobpw")
    a.msg("!ban bob 1h spamming")
    b.expect(rf"^IQUI {b.sid} ID{a.sid} TL3600 MSBanned\\sby\\salice")
    b.wait_closed()
    b = hub.client()
    b.handshake()
    b.inf("bob")
    b.expect(r"^ISTA 232 You\\sare\\sbanned\\sfor\\s.*spamming TL3")
    b.wait_closed()
    a.msg("!unban bob")
    a.expect(r"^IMSG Unbanned\\sbob")
    hub.login("bob", "bobpw")
    log = hub.log_text()
    assert "kick bob by alice" in log and "ban nick bob" in log, log


@with_hub({"registered_only": "true"})
def test_registered_only(hub):
    c = hub.client()
    c.handshake()
    c.inf("guest")
    c.expect(r"^ISTA 226 ")
    c.wait_closed()
    hub.login("bob", "bobpw")


@with_hub()
def test_ops_see_users_with_address(hub):
    o = hub.login("Oscar", "oscarpw")
    b = hub.login("bob", "bobpw")
    port = b.sock.getsockname()[1]
    o.drain(0.1)
    o.msg("!users")
    text = unesc(o.expect(r"^IMSG \d+\\susers"))
    assert f"bob  user  127.0.0.1:{port}  adcclient 0.1  active" in text, text
    b.msg("!users")
    b.expect(r"^IMSG !users:\\sonly\\sops")


def test_history_replay_after_restart():
    hub = Hub()
    try:
        a = hub.login("alice", "alicepw")
        a.msg("remember me")
        a.msg("and me too")
        a.expect(r"and\\sme\\stoo$")
        assert hub.stop() == 0
        hub.start()
        b = hub.login("bob", "bobpw")
        h = unesc(b.expect(r"^IMSG Chat\\shistory"))
        assert "<alice> remember me" in h and "<alice> and me too" in h, h
        b.msg("!history 1")
        h = unesc(b.expect(r"^IMSG Chat\\shistory"))
        assert "and me too" in h and "remember" not in h, h
    finally:
        hub.cleanup()


@with_hub({"hub_name": "before"})
def test_sighup_reload(hub):
    a = hub.login("alice", "alicepw")
    hub.write_conf({"listen": "127.0.0.1:0", "db": hub.db,
                    "hub_name": "after", "motd": "new motd"})
    hub.proc.signal(signal.SIGHUP)
    d = Deadline(10)
    while "configuration reloaded" not in hub.log_text():
        assert not d.expired(), hub.log_text()
        a.drain(0.05)
    c = hub.client()
    c.handshake()
    assert "NIafter" in c.lines[2], c.lines
    c.inf("guest")
    c.expect(r"^IMSG new\\smotd")
    a.msg("still connected")
    a.expect(r"still\\sconnected$")
    # a broken file is reported with file:line, the old settings stay
    with open(hub.conf, "a") as f:
        f.write("max_users = lots\n")
    hub.proc.signal(signal.SIGHUP)
    while "reload failed" not in hub.log_text():
        assert not d.expired(), hub.log_text()
        a.drain(0.05)
    assert "hub.conf:5: max_users" in hub.log_text()
    a.msg("!reload")
    a.expect(r"^IMSG !reload\\sfailed")


@with_hub()
def test_sighup_rereads_roles(hub):
    a = hub.login("alice", "alicepw")
    b = hub.login("bob", "bobpw")
    b.msg("!users")
    b.expect(r"^IMSG !users:\\sonly\\sops")
    ipckit("hub", "user", "role", "bob", "op", "--db", hub.db, check=True)
    hub.proc.signal(signal.SIGHUP)
    b.expect(r"^IMSG Your\\srole\\sis\\snow\\sop")
    a.expect(rf"^BINF {b.sid} CT4$")
    b.msg("!users")
    b.expect(r"^IMSG \d+\\susers\\sonline")
    ipckit("hub", "user", "del", "bob", "--db", hub.db, check=True)
    hub.proc.signal(signal.SIGHUP)
    a.expect(rf"^BINF {b.sid} CT$")


@with_hub({"tls": "true"})
def test_tls_and_plain_on_one_port(hub):
    log = hub.log_text()
    kp = log.split("/?kp=", 1)[1].split()[0]
    a = hub.login("alice", "alicepw", tls=True)
    assert a.keyprint == kp, (a.keyprint, kp)
    b = hub.login("bob", "bobpw")  # plain ADC on the same port
    a.expect(rf"^BINF {b.sid} ")
    b.msg("over plain")
    a.expect(r"^BMSG .* over\\splain$")
    a.send_raw((f"BMSG {a.sid} {'x' * 12000}\n"
                f"BMSG {a.sid} {'y' * 12000}\n").encode())  # > 1 record
    b.expect(r"^BMSG .* x{12000}$")
    b.expect(r"^BMSG .* y{12000}$")
    a.send(f"EMSG {a.sid} {b.sid} secret PM{a.sid}")
    b.expect(r"^EMSG .* secret")
    a.close()
    b.expect(rf"^IQUI {a.sid}$")
    # the certificate is kept: same keyprint after a restart
    assert hub.stop() == 0
    hub.start()
    assert hub.login("carol", "carolpw", tls=True).keyprint == kp


@with_hub({"tls_require": "true"})
def test_tls_required(hub):
    c = hub.client()
    c.send("HSUP ADBASE ADTIGR")
    c.expect(r"^ISTA 240 This\\shub\\srequires\\sTLS")
    c.wait_closed()
    hub.login("bob", "bobpw", tls=True)


def test_graceful_shutdown():
    hub = Hub()
    try:
        a = hub.login("alice", "alicepw")
        b = hub.login("bob", "bobpw")
        a.drain(0.1)
        assert hub.stop(signal.SIGTERM) == 0, hub.log_text()
        got = a.wait_closed()
        assert "IMSG Hub\\sis\\sshutting\\sdown\\s(SIGTERM)" in got, got
        assert f"IQUI {a.sid} MSHub\\sis\\sshutting\\sdown\\s(SIGTERM)" \
            in got, got
        b.wait_closed()
    finally:
        hub.cleanup()


def test_user_commands():
    tmp = TempDir()
    try:
        db = tmp.join("acct.db")
        r = ipckit("hub", "user", "add", "dave", "--role", "op", "--db", db,
                   input="davepw\n")
        assert r.returncode == 0, r.stderr
        assert stat.S_IMODE(os.stat(db + ".key").st_mode) == 0o600
        r = ipckit("hub", "user", "add", "DAVE", "--db", db, input="x\n")
        assert r.returncode == 1 and "exists" in r.stderr, r.stderr
        ipckit("hub", "user", "role", "dave", "admin", "--db", db,
               check=True)
        ipckit("hub", "user", "passwd", "dave", "--db", db, input="new\n",
               check=True)
        r = ipckit("hub", "user", "list", "--db", db, check=True)
        assert r.stdout.split()[:2] == ["dave", "admin"], r.stdout
        with open(db, "rb") as f:
            assert b"davepw" not in f.read() and True
        r = ipckit("hub", "user", "add", "eve", "--db", db, input="")
        assert r.returncode == 1 and "no password" in r.stderr
        r = ipckit("hub", "user", "frob", "--db", db)
        assert r.returncode == 2
        ipckit("hub", "user", "del", "dave", "--db", db, check=True)
        r = ipckit("hub", "user", "del", "dave", "--db", db)
        assert r.returncode == 1 and "no account" in r.stderr
        os.chmod(db + ".key", 0o644)
        r = ipckit("hub", "user", "list", "--db", db)
        assert r.returncode == 1 and "chmod 600" in r.stderr, r.stderr
        # a bad config file is a usage error with file:line
        conf = tmp.join("bad.conf")
        with open(conf, "w") as f:
            f.write("hub_name = x\nmax_userz = 3\n")
        r = ipckit("hub", "--config", conf)
        assert r.returncode == 2 and "bad.conf:2: unknown setting" \
            in r.stderr, r.stderr
        # --ready-fd must name an open descriptor (the child has only 0-2)
        r = ipckit("hub", "--ready-fd", "987", "--db", db)
        assert r.returncode == 2 and "987 is not open" in r.stderr, \
            r.stderr
    finally:
        tmp.cleanup()


if __name__ == "__main__":
    run([test_chat_pm_and_leave, test_user_list_and_inf,
         test_search_and_connect_routing, test_bad_password,
         test_fresh_challenges, test_duplicate_nick_and_cid,
         test_spoofed_sid, test_pd_id_mismatch_and_address,
         test_overlong_line, test_bad_escape_and_utf8, test_flood,
         test_slow_reader, test_output_path,
         test_backlog_drains_whole_and_in_order, test_login_timeout, test_kick_and_ban,
         test_registered_only, test_ops_see_users_with_address,
         test_history_replay_after_restart, test_sighup_reload,
         test_sighup_rereads_roles, test_tls_and_plain_on_one_port,
         test_tls_required,
         test_graceful_shutdown, test_user_commands], time_limit=60)
