#!/usr/bin/env python3
"""End-to-end: real Direct Connect clients through our hub (`ipckit hub`).

Two eiskaltdcpp-daemon instances (JSON-RPC; ek1 active, ek2 passive) and
ncdc (under a private tmux server; active) log in with passwords to a
registered-only `ipckit hub` started with --listen 127.0.0.1:0
--ready-fd, its accounts made with `ipckit hub user add` (password on
stdin).  They chat both ways (UTF-8 and ADC's escapes intact), send
private messages both ways between EiskaltDC++ and ncdc, search (results
through the hub to passive searchers, by UDP to active ones), and
download files from each other peer to peer: passive from active (RCM
then CTM through the hub), active from passive (CTM, the passive one
connects out), ncdc from a passive EiskaltDC++; every file is checked by
sha256.  When one quits, the others see it leave.  The drivers are in
dcclients.py."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from dcclients import Eiskalt, IpckitHub, Ncdc, tth, wait_until  # noqa: E402

USERS = {"ek1": "ek1-secret", "ek2": "ek2-secret", "nc": "nc-secret"}


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def make_file(dirpath, name, size):
    os.makedirs(dirpath, exist_ok=True)
    path = os.path.join(dirpath, name)
    with open(path, "wb") as f:
        f.write(os.urandom(size))
    return path


def search_until(ek, text, name, timeout=40):
    """Send a search from EiskaltDC++ until a result for name comes back
    (a search that went out before the other side had its share ready
    finds nothing; each wait is bounded)."""
    def found():
        ek.search(text)
        try:
            return ek.wait_result(name, timeout=5)
        except AssertionError:
            return None
    return wait_until(found, timeout, f"{ek.nick} finding {name}", step=0)


def comment(title, text):
    print(f"# --- {title}", flush=True)
    for line in text.splitlines()[-60:]:
        print(f"#   {line.rstrip()}", flush=True)


def test_real_clients_through_our_hub():
    tmp = harness.TempDir()
    tag = os.urandom(3).hex()
    hub = IpckitHub(users=USERS, reg_only=True)
    ek1 = ek2 = nc = None
    try:
        alpha = make_file(tmp.join("alpha"), f"alpha-{tag}.bin",
                          1_500_000 + 123)
        beta = make_file(tmp.join("beta"), f"beta-{tag}.bin", 1_000_000 + 7)
        ek1 = Eiskalt(hub.url, "ek1", USERS["ek1"], active=True,
                      share=tmp.join("alpha"))
        ek2 = Eiskalt(hub.url, "ek2", USERS["ek2"], active=False,
                      share=tmp.join("beta"))
        nc = Ncdc(hub.url, "nc", USERS["nc"], active=True)
        # Logged in, with passwords: the hub refuses guests, and logs
        # each login with the account's role.
        for a, b in ((ek1, "ek2"), (ek1, "nc"), (ek2, "ek1"), (ek2, "nc")):
            a.wait_user(b)
        nc.wait_screen("(registered)")
        nc.wait_screen("3 users")
        log = hub.log_text()
        for nick in USERS:
            assert f"login {nick} (user)" in log, log
        wait_until(lambda: ek1.hashed() and ek2.hashed(), 30,
                   "EiskaltDC++ hashing its share")

        # Main chat, both ways, seen by everyone.
        ek1.say(f"hello from ek1 {tag}")
        ek2.wait_chat(f"hello from ek1 {tag}")
        nc.wait_chat(f"<ek1> hello from ek1 {tag}")
        nc.say(f"hello from ncdc {tag}")
        ek1.wait_chat(f"hello from ncdc {tag}")
        ek2.wait_chat(f"hello from ncdc {tag}")
        # ADC's escapes (space, backslash) and UTF-8 come out as typed.
        odd = f"h\u00e9llo w\u00f6rld \\ back\\slash \u2713 {tag}"
        ek2.say(odd)
        ek1.wait_chat(odd)
        nc.wait_chat(f"<ek2> {odd}")

        # Private messages: EiskaltDC++ to ncdc and ncdc to EiskaltDC++.
        ek1.pm("nc", f"psst nc {tag}")
        nc.wait_pm("ek1", f"psst nc {tag}")
        nc.pm("ek2", f"psst ek2 {tag}")
        ek2.wait_pm("nc", f"psst ek2 {tag}")
        assert f"psst ek2 {tag}" not in ek1.pm_log()

        # Searches: a passive searcher gets results through the hub
        # (DRES), an active one by UDP.
        r = search_until(ek2, f"alpha-{tag}", f"alpha-{tag}.bin")
        assert r.get("Nick") == "ek1", r
        r = search_until(ek1, f"beta-{tag}", f"beta-{tag}.bin")
        assert r.get("Nick") == "ek2", r
        nc.hub_tab()
        nc.type(f"/search alpha-{tag}")
        nc.wait_screen(f"alpha-{tag}.bin")
        nc.wait_screen("ek1 ")
        nc.close_tab()

        # Downloads, peer to peer: passive from active, then active from
        # passive and ncdc (active) from a passive EiskaltDC++ at once.
        # Two EiskaltDC++ downloading from each other at the same time
        # both stall at 0 bytes, on uhub as on our hub (a client quirk),
        # so the first download ends before the reverse one starts.
        ek2.download(f"alpha-{tag}.bin", os.path.getsize(alpha), tth(alpha))
        got = ek2.wait_download(f"alpha-{tag}.bin", os.path.getsize(alpha))
        assert sha256(got) == sha256(alpha)
        ek1.download(f"beta-{tag}.bin", os.path.getsize(beta), tth(beta))
        nc.download(f"beta-{tag}.bin", os.path.getsize(beta), tth(beta))
        got = ek1.wait_download(f"beta-{tag}.bin", os.path.getsize(beta))
        assert sha256(got) == sha256(beta)
        got = nc.wait_download(f"beta-{tag}.bin", os.path.getsize(beta))
        assert sha256(got) == sha256(beta)

        # Leaving: the others see it.
        ek2.quit()
        ek1.wait_left("ek2")
        nc.wait_left("ek2")
        nc.quit()
        ek1.wait_left("nc")
        log = hub.log_text()
        assert "logout ek2 " in log and "logout nc " in log, log
        assert USERS["ek1"] not in log, "a password reached the log"
    except BaseException:
        comment("the hub's log", hub.log_text())
        if nc:
            comment("ncdc's screen", nc.screen())
        raise
    finally:
        for c in (nc, ek2, ek1):
            if c:
                c.stop()
        tmp.cleanup()
        hub.stop()  # it must exit 0 on SIGTERM


if __name__ == "__main__":
    harness.run([test_real_clients_through_our_hub], time_limit=240)
