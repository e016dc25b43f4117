#!/usr/bin/env python3
"""End-to-end: the interactive face of `ipckit peer` in a real terminal
(a private tmux server), on uhub or our hub (the first argument): the
hub's banner, the ID: and PW: prompts with no echo of the password, the
seed's login and chat lines, a half-typed line that survives incoming
messages, Tab completion of commands and nicks, leaves, and /exit."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from dcclients import (IPCKIT, BatchPeer, Term, hub_class,  # noqa: E402
                       wait_until)

# The hub to run against: `uhub` (Debian's, the reference) or `ipckit`
# (ours), the first argument; meson runs each file once per hub.
HUB = hub_class()


def test_interactive_session():
    tmp = harness.TempDir()
    hub = HUB(users={"user1": "passwd1", "user2": "passwd2"})
    t = other = None
    try:
        t = Term([IPCKIT, "peer", "--state-dir", tmp.join("s"),
                  "--downloads", tmp.join("d"), hub.url])
        t.wait("Hello! This is Test hub")
        t.wait("A hub for tests")
        t.wait("ID:")
        t.type("user1")
        t.key("Enter")
        t.wait("PW:")
        t.type("passwd1")
        screen = t.screen()
        assert "passwd1" not in screen, screen  # never echoed
        t.key("Enter")
        t.wait("Log-in success!! [user1]")
        t.wait("-----Chatting Room-----")
        t.wait("[hub] Welcome to the test hub")
        other = BatchPeer(hub.url, "user2", "passwd2")
        t.wait("[user2] is in the chat")
        # A half-typed line survives incoming messages.
        t.type("half typed li")
        other.send("korea")
        other.send("polytechnic")
        t.wait("[user2] : polytechnic")
        assert t.last_line() == "> half typed li", t.screen()
        t.type("ne")
        t.key("Enter")
        t.wait("[user1] : half typed line")
        # The typed copy was replaced by the room's line.
        assert "> half typed line" not in t.screen(), t.screen()
        other.expect("chat user1 half typed line")
        # Tab completes commands and nicks.
        t.type("/ms")
        t.key("Tab")
        t.type("user2")
        t.key("Enter")  # "/msg user2" without text: usage error
        t.wait("error: usage: /msg NICK TEXT")
        t.type("/msg us")
        t.key("Tab")
        t.type("2")
        t.key("Tab")
        t.type("psst")
        t.key("Enter")
        t.wait("[user1 -> user2] : psst")
        other.expect("pm user1 user2 psst")
        assert other.quit() == 0
        t.wait("[user2] is left the chat...")
        t.type("/exit")
        t.key("Enter")
        wait_until(t.exited, 20, "the client to exit")
    finally:
        if other:
            other.stop()
        if t:
            t.stop()
        hub.stop()
        tmp.cleanup()


if __name__ == "__main__":
    harness.run([test_interactive_session])
