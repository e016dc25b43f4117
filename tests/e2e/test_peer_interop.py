#!/usr/bin/env python3
"""End-to-end: our client against real ADC clients through a hub (Debian's
uhub or ours, the first argument), files both ways on both paths, bytes
checked by sha256.

EiskaltDC++ runs as eiskaltdcpp-daemon (JSON-RPC), ncdc under a private
tmux server.  For each real client: (a) we are active and it is passive,
(b) we are passive and it is active; in each, we download from it and it
downloads from us, the two chat and exchange private messages, read each
other's file lists, and we see it leave."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from dcclients import (BatchPeer, Eiskalt, Ncdc, fields,  # noqa: E402
                       hub_class, tth, wait_until)

# The hub to run against: `uhub` (Debian's, the reference) or `ipckit`
# (ours), the first argument; meson runs each file once per hub.
HUB = hub_class()

USERS = {"us": "uspw", "ek": "ekpw", "nc": "ncpw"}


def sha256_bytes(b):
    return hashlib.sha256(b).hexdigest()


def sha256(path):
    with open(path, "rb") as f:
        return sha256_bytes(f.read())


def run_pair(make_real, we_active, real_active, tag):
    tmp = harness.TempDir()
    hub = HUB(users=USERS)
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
        real.say(f"hello from {real.nick}")
        us.expect(f"chat {real.nick} hello from {real.nick}", timeout=30)
        us.send("hi there")
        real.wait_chat("hi there")
        # Private messages both ways.
        real.pm("us", f"psst from {real.nick}")
        us.expect(f"pm {real.nick} us psst from {real.nick}", timeout=30)
        us.send(f"/msg {real.nick} secret reply")
        real.wait_pm("us", "secret reply")
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
        real.download(f"from-us-{tag}.bin", len(ours),
                      tth(tmp.join("ours", f"from-us-{tag}.bin")))
        path = real.wait_download(f"from-us-{tag}.bin", len(ours))
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
        real.browse("us", "ours")
        # It leaves: we see it go ("[nc] is left the chat..." on a
        # terminal).
        real.quit()
        us.expect(f"leave {real.nick}", timeout=30)
    finally:
        if us:
            us.stop()
        if real:
            real.stop()
        hub.stop()
        tmp.cleanup()


def eiskalt(hub_url, share, active):
    e = Eiskalt(hub_url, "ek", "ekpw", active=active, share=share)
    wait_until(lambda: e.hashed(), 30, "eiskalt hashing")
    return e


def ncdc(hub_url, share, active):
    return Ncdc(hub_url, "nc", "ncpw", active=active, share=share)


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
