#!/usr/bin/env python3
"""End-to-end: `ipckit peer --batch` against a fresh hub, Debian's uhub or
our `ipckit hub` (the first argument): login (good, bad password,
unknown nick on a registered-only hub, taken nick), chat, PM, /me, join and
leave, search (active and passive), downloads between two of our clients in
both modes with sha256 checks, multi-source segments, resume after a
restart, safe names, file lists (/browse), upload slots and queueing."""
import hashlib
import os
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from dcclients import BatchPeer, IpckitHub, fields, hub_class  # noqa: E402

# The hub to run against: `uhub` (Debian's, the reference) or `ipckit`
# (ours), the first argument; meson runs each file once per hub.
HUB = hub_class()

USERS = {"user1": "passwd1", "user2": "passwd2", "user3": "passwd3"}


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def make_share(tmp, name, files):
    d = tmp.join(name)
    os.makedirs(d, exist_ok=True)
    for rel, data in files.items():
        p = os.path.join(d, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "wb") as f:
            f.write(data)
    return d


class World:
    """A hub and the peers of one test; cleans up whatever happens."""

    def __init__(self, **hub_args):
        self.tmp = harness.TempDir()
        self.hub = HUB(users=USERS, **hub_args)
        self.peers = []

    def peer(self, nick, hub_url=None, **kw):
        kw.setdefault("password", USERS.get(nick))
        p = BatchPeer(hub_url or self.hub.url, nick, **kw)
        self.peers.append(p)
        return p

    def close(self):
        for p in self.peers:
            p.stop()
        self.hub.stop()
        self.tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()


def test_login_chat_pm():
    with World() as w:
        a = w.peer("user1")
        hub = a.lines
        assert any(line.startswith("hub Test\\shub A hub for tests")
                   for line in hub), hub
        a.expect("hubmsg Welcome to the test hub")
        b = w.peer("user2")
        a.expect("join user2")
        a.send("korea polytechnic")
        a.expect("chat user1 korea polytechnic")
        b.expect("chat user1 korea polytechnic")
        b.send("/msg user1 a secret")
        a.expect("pm user2 user1 a secret")
        b.expect("pm user2 user1 a secret")
        b.send("/me waves")
        a.expect("me user2 waves")
        b.send("/users")
        u = b.expect("user user1 ")
        f = fields(u, 8)
        assert f[2] == "127.0.0.1" and f[7].startswith("ipckit"), u
        b.expect("users 2")
        assert b.quit() == 0
        a.expect("leave user2")
        assert a.quit() == 0


def test_kicked_and_banned():
    """Our hub only (uhub 0.4.1 gives a kick no reason and bans by another
    syntax): an operator's !kick and !ban reach our client with the
    hub's reason, and the banned user is refused with it."""
    with World(roles={"user1": "op"}) as w:
        op = w.peer("user1")
        bob = w.peer("user2")
        op.expect("join user2")
        op.send("!kick user2 be nice")
        line = bob.expect("disconnected ")
        assert "Kicked by user1: be nice" in line, line
        assert bob.quit() == 1
        op.expect("leave user2 Kicked by user1: be nice")
        op.send("!ban user2 1h spam")
        op.expect("hubmsg ", pred=lambda l: "user2" in l)
        again = w.peer("user2", wait_login=False)
        line = again.expect("login-failed ")
        assert "banned" in line and "spam" in line, line
        assert again.quit() == 1
        op.send("!unban user2")
        op.expect("hubmsg ", pred=lambda l: "nban" in l)
        w.peer("user2")


def test_ready_fd_and_signal():
    """--ready-fd reports the login; SIGTERM is a clean quit (status 0)."""
    with World() as w:
        p = harness.Proc([harness.IPCKIT, "peer", "--batch", "-n", "user1",
                          "--password-env", "PW", "--ready-fd", "3",
                          "-l", "127.0.0.1:0",
                          "--state-dir", w.tmp.join("s"),
                          "--downloads", w.tmp.join("d"), w.hub.url],
                         ready=True, stdin=subprocess.PIPE,
                         env={"PW": "passwd1"})
        try:
            assert p.ready == "ready active", p.ready
            p.signal(signal.SIGTERM)
            assert p.wait(timeout=20) == 0
        finally:
            p.kill()


def test_tls_hub():
    """adcs://: login and chat over TLS; a pinned keyprint must match."""
    with World(tls=True) as w:
        kp = w.hub.keyprint
        a = w.peer("user1", hub_url=f"{w.hub.url}/?kp={kp}")
        line = a.expect("tls ")
        f = fields(line, 4)
        assert f[1].startswith("TLSv1.") and f[2] == kp and \
            f[3] == "verified", line
        b = w.peer("user2")  # not pinned: shown, still encrypted
        assert b.expect("tls ").endswith(" not pinned")
        a.send("over tls")
        b.expect("chat user1 over tls")
        bad = "SHA256/" + "A" * 52
        c = w.peer("user3", hub_url=f"{w.hub.url}/?kp={bad}",
                   wait_login=False)
        line = c.expect("login-failed ")
        assert kp in line and "not the one in the address" in line, line
        assert c.quit() == 1
        # A plain adc:// client cannot talk to a TLS-only hub.
        d = w.peer("user3", hub_url=w.hub.url.replace("adcs", "adc"),
                   wait_login=False)
        d.expect("login-failed ")


def test_usage_errors():
    r = harness.ipckit("peer", "http://x:1")
    assert r.returncode == 1 and "adc://HOST:PORT" in r.stderr, r
    r = harness.ipckit("peer", "adc://127.0.0.1:1/?kp=SHA256/AAAA")
    assert r.returncode == 1 and "kp=" in r.stderr, r
    r = harness.ipckit("peer", "--password-env", "IPK_NO_SUCH_VAR_X",
                       "adc://127.0.0.1:1")
    assert r.returncode == 2, r
    r = harness.ipckit("peer")
    assert r.returncode == 2, r
    # --ready-fd must name an open descriptor (the child has only 0-2)
    r = harness.ipckit("peer", "--ready-fd", "987", "adc://127.0.0.1:1")
    assert r.returncode == 2 and "987 is not open" in r.stderr, r


def test_login_failures():
    with World(reg_only=True) as w:
        bad = w.peer("user1", password="wrong", wait_login=False)
        line = bad.expect("login-failed ")
        assert "Password" in line or "password" in line, line
        assert bad.quit() == 1
        guest = w.peer("nobody", password=None, wait_login=False)
        line = guest.expect("login-failed ")
        assert "registered users only" in line, line
        assert guest.quit() == 1
        ok = w.peer("user1")
        twice = w.peer("user1", wait_login=False)
        line = twice.expect("login-failed ")
        assert "taken" in line.lower() or "nick" in line.lower(), line
        twice.quit()
        ok.quit()


def download_between(active_uploader, active_downloader):
    with World() as w:
        big = os.urandom(3 * 1024 * 1024 + 12345)
        share = make_share(w.tmp, "share-a", {
            "music/song one.mp3": big,
            "docs/readme.txt": b"hello world\n",
            "empty.dat": b"",
        })
        up = w.peer("user1", shares=[share],
                    listen="127.0.0.1:0" if active_uploader else None)
        up.expect("share-ready 3 ")
        dn = w.peer("user2",
                    listen="127.0.0.1:0" if active_downloader else None)
        dn.send("/search song")
        r = dn.expect("result 1 ")
        f = fields(r, 7)
        assert f[2] == "user1" and f[3] == "/share-a/music/song one.mp3", r
        assert int(f[4]) == len(big)
        dn.send("/get 1")
        done = dn.expect("download-done 1 ", timeout=60)
        path = fields(done, 5)[2]
        assert os.path.basename(path) == "song one.mp3", done
        assert sha256(path) == hashlib.sha256(big).hexdigest()
        up.expect("upload-done user2 /share-a/music/song\\sone.mp3")
        # The empty file and a small one, by TTH search.
        dn.send("/search ext:txt")
        r = dn.expect("result 1 ")
        dn.send("/get 1")
        done = dn.expect("download-done 2 ", timeout=30)
        with open(fields(done, 5)[2], "rb") as fh:
            assert fh.read() == b"hello world\n"
        # The same file again: a new name, the first copy untouched.
        dn.send("/get 1")
        done = dn.expect("download-done 3 ", timeout=30)
        assert fields(done, 5)[2].endswith("/readme (1).txt"), done
        dn.send("/downloads")
        line = dn.expect("download 1 ")
        f = fields(line, 10)
        assert f[3] == "#" * 20 and f[4] == "100" and f[8] == "done", line


def test_download_active_to_active():
    download_between(True, True)


def test_download_passive_downloader():
    download_between(True, False)


def test_download_passive_uploader():
    download_between(False, True)


def test_browse_and_get_from_list():
    with World() as w:
        share = make_share(w.tmp, "lib", {
            "a/one.txt": b"one\n", "a/b/two.txt": b"two two\n",
            "three & more.txt": b"3",
        })
        up = w.peer("user1", shares=[share], listen="127.0.0.1:0")
        up.expect("share-ready 3 ")
        dn = w.peer("user2")
        dn.send("/browse user1")
        line = dn.expect("list user1 ")
        assert fields(line, 3)[2] == "6", line  # 3 files, 3 directories
        entries = [dn.expect("entry ") for _ in range(3)]
        paths = [fields(e, 5)[2] for e in entries]
        assert "/lib/a/b/two.txt" in paths and \
            "/lib/three & more.txt" in paths, entries
        n = next(fields(e, 5)[1] for e in entries
                 if fields(e, 5)[2] == "/lib/a/b/two.txt")
        dn.send(f"/get {n}")
        done = dn.expect("download-done ")
        with open(fields(done, 5)[2], "rb") as fh:
            assert fh.read() == b"two two\n"


def test_hash_cache_and_rehash():
    with World() as w:
        share = make_share(w.tmp, "cache", {
            "x.bin": os.urandom(300000), "y.bin": os.urandom(1000)})
        state = w.tmp.join("state")
        a = w.peer("user1", shares=[share], state_dir=state)
        line = a.expect("share-ready 2 ")
        assert fields(line, 5)[3] == "2", line  # both hashed
        assert a.quit() == 0
        a = w.peer("user1", shares=[share], state_dir=state)
        line = a.expect("share-ready 2 ")
        assert fields(line, 5)[3] == "0", line  # from the cache
        with open(os.path.join(share, "z.bin"), "wb") as f:
            f.write(b"new")
        a.send("/rehash")
        line = a.expect("share-ready 3 ")
        assert fields(line, 5)[3] == "1", line  # only the new file
        a.send("/unshare cache")
        a.expect("unshare cache")
        a.expect("share-ready 0 ")


if __name__ == "__main__":
    harness.run([
        test_login_chat_pm,
        test_login_failures,
    ] + ([test_kicked_and_banned] if HUB is IpckitHub else []) + [
        test_ready_fd_and_signal,
        test_usage_errors,
        test_tls_hub,
        test_download_active_to_active,
        test_download_passive_downloader,
        test_download_passive_uploader,
        test_browse_and_get_from_list,
        test_hash_cache_and_rehash,
    ])
