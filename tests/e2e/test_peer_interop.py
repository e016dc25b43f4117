#!/usr/bin/env python3
"""End-to-end: our client against real ADC clients through Debian's uhub,
files both ways on both paths, bytes checked by sha256.

EiskaltDC++ runs as eiskaltdcpp-daemon (JSON-RPC), ncdc under a private
tmux server.  For each real client: (a) we are active and it is passive,
(b) we are passive and it is active; in each, we download from it and it
downloads from us, and the two chat."""
import hashlib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from dcclients import (BatchPeer, Eiskalt, Ncdc, Uhub, fields,  # noqa: E402
                       tth, wait_until)

USERS = {"us": "uspw", "ek": "ekpw", "nc": "ncpw"}


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def sha256(path):
    with open(path, "rb") as f:
        return sha256_bytes(f.read())


def file_in(dirpath, name):
    p = os.path.join(dirpath, name)
    return p if os.path.isfile(p) else None


def run_pair(make_real, we_active, real_active, tag):
    tmp = harness.TempDir()
    hub = Uhub(users=USERS)
    real = us = None
    try:
        ours = os.urandom(1_500_000 + 777)
        theirs = os.urandom(2_000_000 + 333)
        os.makedirs(tmp.join("ours"))
        os.makedirs(tmp.join("theirs"))
        with open(tmp.join("ours", f"from-us-{tag}.bin"), "wb") as f:
            f.write(ours)
        with open(tmp.join("theirs", f"from-them-{tag}.bin"), "wb") as f:
            f.write(theirs)
        real = make_real(hub.url, tmp.join("theirs"), real_active)
        us = BatchPeer(hub.url, "us", "uspw", shares=[tmp.join("ours")],
                       listen="127.0.0.1:0" if we_active else None)
        us.expect("share-ready 1 ")

        def online():
            us.mark()
            start = len(us.lines)
            us.send("/users")
            us.expect("users ", timeout=10)
            return any(u.startswith(f"user {real.nick} ")
                       for u in us.lines[start:])
        wait_until(online, 30, f"{real.nick} online", step=0.5)
        # Chat both ways.
        real.say_(f"hello from {real.nick}")
        us.expect(f"chat {real.nick} hello from {real.nick}", timeout=30)
        us.send("hi there")
        real.wait_chat_("hi there")
        # Private messages both ways.
        real.pm_("us", f"psst from {real.nick}")
        us.expect(f"pm {real.nick} us psst from {real.nick}", timeout=30)
        us.send(f"/msg {real.nick} secret reply")
        real.wait_pm_("us", "secret reply")
        # We download from them (their hashing may still be running).
        def found():
            us.mark()
            us.send(f"/search from-them-{tag}")
            try:
                return us.expect("result 1 ", timeout=3)
            except AssertionError:
                return None
        r = wait_until(found, 40, "their file in our search results",
                       step=0.5)
        f = fields(r, 7)
        assert int(f[4]) == len(theirs), r
        us.send("/get 1")
        done = us.expect("download-done ", timeout=60)
        assert sha256(fields(done, 5)[2]) == sha256_bytes(theirs)
        # They download from us, by TTH.
        real.download_(f"from-us-{tag}.bin", len(ours),
                       tth(tmp.join("ours", f"from-us-{tag}.bin")))
        path = wait_until(lambda: file_in(real.downloads,
                                          f"from-us-{tag}.bin"),
                          60, f"{real.nick} to finish downloading from us")
        wait_until(lambda: os.path.getsize(path) == len(ours), 20,
                   "the whole file")
        assert sha256(path) == sha256_bytes(ours)
        us.expect(f"upload-done {real.nick} ", timeout=20)
        # File lists: they read ours; we read EiskaltDC++'s (ncdc
        # rewrites its own list about a minute after hashing, too slow
        # for a test).
        if real.list_is_current:
            us.send(f"/browse {real.nick}")
            us.expect(f"list {real.nick} ", timeout=30)
            us.expect("entry ", pred=lambda l:
                      f"/theirs/from-them-{tag}.bin" in l, timeout=10)
        real.browse_("us", f"from-us-{tag}.bin")
    finally:
        if us:
            us.stop()
        if real:
            real.stop()
        hub.stop()
        tmp.cleanup()


class EiskaltPeer(Eiskalt):
    list_is_current = True

    def say_(self, text):
        self.say(text)

    def wait_chat_(self, text):
        wait_until(lambda: text in self.chat(), 30, f"'{text}' in eiskalt")

    def pm_(self, nick, text):
        self.pm(nick, text)

    def wait_pm_(self, nick, text):
        wait_until(lambda: text in self.pm_log(), 30,
                   f"'{text}' in eiskalt's PM log")

    def download_(self, name, size, tth):
        self.download(name, size, tth)

    def browse_(self, nick, expect):
        """Eiskalt fetches and opens our files.xml.bz2."""
        self.call("list.download", huburl=self.hub_url, nick=nick)

        def listed():
            lists = self.call("list.local") or ""
            for name in str(lists).replace(";", " ").split():
                if name.startswith(nick + "."):
                    self.call("list.open", filelist=name)
                    out = self.call("list.lsdir", filelist=name,
                                    directory="")
                    return "ours" in json.dumps(out)
            return False
        wait_until(listed, 30, "eiskalt reading our file list", step=0.5)


class NcdcPeer(Ncdc):
    list_is_current = False

    def say_(self, text):
        # The hub's echo on ncdc's own screen proves the line went out;
        # a line typed while ncdc was busy is typed again.
        for attempt in range(3):
            self.type(text)
            try:
                self.wait_screen(f"<{self.nick}> {text}", timeout=10)
                return
            except AssertionError:
                if attempt == 2:
                    raise

    def wait_chat_(self, text):
        self.wait_screen(text)

    def pm_(self, nick, text):
        self.type(f"/msg {nick} {text}")

    def wait_pm_(self, nick, text):
        # ncdc opens a tab "~nick" for the conversation; show it.
        self.wait_screen(f"~{nick}", timeout=30)
        self.type(f"/query {nick}")
        self.wait_screen(text)

    def download_(self, name, size, tth):
        self.type(f"/search -tth {tth}")
        self.wait_screen(name, timeout=30)
        self.key("d")

    def browse_(self, nick, expect):
        """ncdc fetches our files.xml.bz2 and shows its top directory."""
        self.key("q")  # close the search tab
        self.type(f"/browse {nick}")
        self.wait_screen("ours/", timeout=30)


def eiskalt(hub_url, share, active):
    e = EiskaltPeer(hub_url, "ek", "ekpw", active=active, share=share)
    wait_until(lambda: e.hashed(), 30, "eiskalt hashing")
    return e


def ncdc(hub_url, share, active):
    return NcdcPeer(hub_url, "nc", "ncpw", active=active, share=share)


def test_eiskalt_we_active_it_passive():
    run_pair(eiskalt, True, False, "ea")


def test_eiskalt_we_passive_it_active():
    run_pair(eiskalt, False, True, "ep")


def test_ncdc_we_active_it_passive():
    run_pair(ncdc, True, False, "na")


def test_ncdc_we_passive_it_active():
    run_pair(ncdc, False, True, "np")


if __name__ == "__main__":
    harness.run([
        test_eiskalt_we_active_it_passive,
        test_eiskalt_we_passive_it_active,
        test_ncdc_we_active_it_passive,
        test_ncdc_we_passive_it_active,
    ], time_limit=180)
