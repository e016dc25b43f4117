#!/usr/bin/env python3
"""End-to-end: scripts/demo.sh, the README's first command, in a temp state
dir on a free port.  The account it prints must really log in: with the
exact `ipckit peer` command it prints, typed at its ID: and PW: prompts in
a real terminal, with `ipckit peer --batch`, and with ncdc following the
printed steps (/open, /hset nick, /hset password, /reconnect).  A second
run on the same state keeps the account; Ctrl-C (SIGINT) stops the hub
cleanly."""
import os
import re
import select
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from dcclients import (IPCKIT, BatchPeer, Ncdc, Term,  # noqa: E402
                       end_process, wait_until)

DEMO = os.path.join(harness.SOURCE_ROOT, "scripts", "demo.sh")


class Demo:
    """demo.sh running (it execs the hub, so its pid is the hub's); the
    text it printed is parsed into url, account, password and the
    client commands."""

    def __init__(self, state, log):
        env = dict(os.environ, IPCKIT=IPCKIT, IPCKIT_DEMO_DIR=state,
                   IPCKIT_DEMO_PORT="0")
        self.proc = subprocess.Popen(["bash", DEMO], stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=log,
                                     env=env)
        try:
            self.text = self._read_banner(30)
            m = re.search(r"running at (adc://127\.0\.0\.1:(\d+))", self.text)
            assert m, self.text
            self.url, self.port = m.group(1), int(m.group(2))
            m = re.search(r"account: (\S+)\s+password: (\S+)", self.text)
            assert m, self.text
            self.account, self.password = m.group(1), m.group(2)
            self.peer_cmd = re.search(r"ipckit peer:\s+(.*)",
                                      self.text).group(1).split()
            self.ncdc_steps = re.search(r"ncdc:\s+(.*)",
                                        self.text).group(1)
        except BaseException:
            self.stop()
            raise

    def _read_banner(self, timeout):
        """Everything up to the banner's last line ("guests ..."), read
        with a deadline."""
        fd = self.proc.stdout.fileno()
        d = harness.Deadline(timeout)
        buf = b""
        while b"guests " not in buf or not buf.endswith(b"\n\n"):
            r, _, _ = select.select([fd], [], [], d.left())
            if not r:
                raise AssertionError(f"demo.sh printed no banner in "
                                     f"{timeout}s: {buf!r}")
            chunk = os.read(fd, 4096)
            if not chunk:
                raise AssertionError(f"demo.sh ended (exit "
                                     f"{self.proc.wait(10)}): {buf!r}")
            buf += chunk
        return buf.decode()

    def stop(self, sig=signal.SIGINT):
        """Ctrl-C, as the banner says; the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                pass
        end_process(self.proc)
        self.proc.stdout.close()
        return self.proc.returncode


def login_in_terminal(demo, tmp):
    """The printed `ipckit peer URL` as it is (its state and downloads
    go where $XDG_STATE_HOME and $XDG_DOWNLOAD_DIR say, in a temp dir),
    in a terminal, with the printed account typed at the prompts: the
    seed's login line."""
    assert demo.peer_cmd == [IPCKIT, "peer", demo.url], demo.peer_cmd
    xdg_state, xdg_dl = tmp.join("xdg-state"), tmp.join("xdg-dl")
    t = Term(demo.peer_cmd, env={"HOME": tmp.join("home"),
                                 "XDG_STATE_HOME": xdg_state,
                                 "XDG_DOWNLOAD_DIR": xdg_dl})
    try:
        t.wait("Hello! This is ipckit demo hub")
        t.wait("ID:")
        t.type(demo.account)
        t.key("Enter")
        t.wait("PW:")
        t.type(demo.password)
        t.key("Enter")
        t.wait(f"Log-in success!! [{demo.account}]")
        t.wait("-----Chatting Room-----")
        # The folders it made: the XDG ones themselves for downloads
        # (it used to add ipckit/peer there too), under it for state.
        assert os.path.isdir(os.path.join(xdg_state, "ipckit", "peer"))
        assert os.path.isdir(xdg_dl) and os.listdir(xdg_dl) == [], \
            os.listdir(xdg_dl)
        t.type("!users")  # an admin command: the account is the admin
        t.key("Enter")
        t.wait(f"{demo.account}  admin  127.0.0.1:")
        t.type("/exit")
        t.key("Enter")
        wait_until(t.exited, 20, "the client to exit")
    finally:
        t.stop()


def login_with_ncdc(demo):
    """ncdc, following the printed steps to the letter."""
    m = re.fullmatch(r"(/open \S+ \S+)\s+then (.*)", demo.ncdc_steps)
    assert m, demo.ncdc_steps
    steps = [m.group(1)] + m.group(2).split(", ")
    assert steps[1:] == [f"/hset nick {demo.account}",
                         f"/hset password {demo.password}",
                         "/reconnect"], steps
    nc = Ncdc(None, "someone")
    try:
        nc.type(steps[0])
        nc.wait_screen("<hub> Welcome to the ipckit demo hub")
        for step in steps[1:]:
            nc.type(step)
        # A logged-in admin: ncdc shows the account as an operator.
        nc.wait_screen(f"{demo.account} @ {demo.url}/ (operator)")
    finally:
        nc.stop()


def test_demo_account_logs_in():
    tmp = harness.TempDir()
    state = tmp.join("state")
    log = open(tmp.join("demo.log"), "wb")
    demo = None
    try:
        demo = Demo(state, log)
        account, password = demo.account, demo.password
        login_in_terminal(demo, tmp)
        p = BatchPeer(demo.url, account, password)
        p.expect("hubmsg Welcome to the ipckit demo hub")
        assert p.quit() == 0
        p.stop()
        login_with_ncdc(demo)
        assert demo.stop() == 0
        # Again, on the same state: the account is kept, not re-added.
        demo = Demo(state, log)
        p = BatchPeer(demo.url, account, password)
        assert p.quit() == 0
        p.stop()
        assert demo.stop() == 0
        demo = None
        with open(tmp.join("demo.log"), encoding="utf-8",
                  errors="replace") as f:
            text = f.read()
        assert text.count(f"{account}: account added") == 1, text
        assert text.count("SIGINT: shutting down") == 2, text
        assert password not in text, "the password reached the log"
    finally:
        if demo:
            demo.stop()
        log.close()
        tmp.cleanup()


if __name__ == "__main__":
    harness.run([test_demo_account_logs_in])
