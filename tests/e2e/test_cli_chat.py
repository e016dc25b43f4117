#!/usr/bin/env python3
"""End-to-end: `ipckit chat`, the two-party chat of seed 000's homework,
with a real server and a real client driven through pipes (and a
terminal): the seed's transcript over two FIFOs, "quit" from either side
ending both with "Quit chatting", Ctrl-C (SIGINT) of the server and of the
client (the FIFOs go, the other side ends cleanly, nothing wedges), the
end of input, a client with no server, chat over a UNIX socket, a POSIX
queue pair and one System V queue, and usage errors."""
import os
import pty
import signal
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from cliutil import Lines, Scope, run_ipckit  # noqa: E402

IPCKIT = harness.IPCKIT


def start(scope, addr):
    server = Lines([IPCKIT, "chat", "--serve", "--ready-fd", "3", addr],
                   ready=True)
    client = Lines([IPCKIT, "chat", "--join", addr])
    return server, client


def fifo_paths(scope):
    return [scope.path("chat.c2s"), scope.path("chat.s2c")]


def seed_dialogue(server, client):
    """The seed's expected result, both screens."""
    client.write("hello\n")
    server.wait_for("[CLIENT] hello\n")
    server.write("hi, my name is seungho\n")
    client.wait_for("[SERVER] hi, my name is seungho\n")
    client.write("hello, my name is lim\n")
    client.write("good day\n")
    server.wait_for("[CLIENT] good day\n")
    server.write("bye\n")
    client.wait_for("[SERVER] bye\n")


def test_seed_transcript_quit_from_server():
    s = Scope()
    addr = f"fifo:{s.path('chat')}"
    server, client = start(s, addr)
    try:
        assert all(os.path.exists(p) for p in fifo_paths(s))
        seed_dialogue(server, client)
        server.write("quit\n")
        assert server.finish() == 0, server.err()
        assert client.finish() == 0, client.err()
        assert server.out() == ("[CLIENT] hello\n"
                                "[CLIENT] hello, my name is lim\n"
                                "[CLIENT] good day\n"
                                "Quit chatting\n"), server.out()
        assert client.out() == ("[SERVER] hi, my name is seungho\n"
                                "[SERVER] bye\n"
                                "[SERVER] quit\n"
                                "Quit chatting\n"), client.out()
        assert server.err() == "" and client.err() == ""
        assert not any(os.path.exists(p) for p in fifo_paths(s))
    finally:
        server.kill()
        client.kill()
        s.check()


def test_quit_from_client():
    s = Scope()
    addr = f"fifo:{s.path('chat')}?mode=0600"
    server, client = start(s, addr)
    try:
        server.write("welcome\n")
        client.wait_for("[SERVER] welcome\n")
        client.write("quit\n")
        assert client.finish() == 0, client.err()
        assert server.finish() == 0, server.err()
        assert client.out().endswith("Quit chatting\n"), client.out()
        assert server.out() == "[CLIENT] quit\nQuit chatting\n"
        assert not any(os.path.exists(p) for p in fifo_paths(s))
    finally:
        server.kill()
        client.kill()
        s.check()


def ctrl_c(of_server):
    """Ctrl-C of one side: it says goodbye, the other side ends by itself
    with "Quit chatting", and the server's FIFOs are gone."""
    s = Scope()
    server, client = start(s, f"fifo:{s.path('chat')}")
    try:
        client.write("are you there?\n")
        server.wait_for("[CLIENT] are you there?\n")
        first, other = (server, client) if of_server else (client, server)
        first.signal(signal.SIGINT)
        assert first.finish() == 0, first.err()
        assert other.finish() == 0, other.err()
        assert other.out().endswith("Quit chatting\n"), other.out()
        assert not any(os.path.exists(p) for p in fifo_paths(s))
    finally:
        server.kill()
        client.kill()
        s.check()


def test_ctrl_c_of_server():
    ctrl_c(of_server=True)


def test_ctrl_c_of_client():
    ctrl_c(of_server=False)


def test_sigkilled_client_and_end_of_input():
    """A client killed outright says nothing; the server still ends on
    its own end of input and removes its FIFOs."""
    s = Scope()
    server, client = start(s, f"fifo:{s.path('chat')}")
    try:
        client.write("hi\n")
        server.wait_for("[CLIENT] hi\n")
        client.kill()
        server.close_stdin()
        assert server.finish() == 0, server.err()
        assert not any(os.path.exists(p) for p in fifo_paths(s))
    finally:
        server.kill()
        client.kill()
        s.check()


def sigkilled_server(addr, leftovers):
    """A server killed outright says nothing over queues: the client finds
    its creator gone within a second or two, says so, and ends by itself
    with "Quit chatting"; `ipckit rm --stale` then finds the queues."""
    s = Scope()
    addr = addr(s)
    server, client = start(s, addr)
    try:
        client.write("hi\n")
        server.wait_for("[CLIENT] hi\n")
        server.p.kill()
        server.p.wait(timeout=10)
        client.wait_for("(the other side left)\n", seconds=20)
        assert client.finish() == 0, client.err()
        assert client.out().endswith("Quit chatting\n"), client.out()
        for obj in leftovers(s):
            rc, out, err = run_ipckit("rm", obj, timeout=20)
            assert rc == 0 and b"removed" in out, (obj, rc, out, err)
    finally:
        server.kill()
        client.kill()
        s.check()


def test_sigkilled_server_over_fifos():
    sigkilled_server(lambda s: f"fifo:{s.path('chat')}",
                     lambda s: [f"fifo:{p}" for p in fifo_paths(s)])


def test_sigkilled_server_over_one_sysv_queue():
    key = []
    sigkilled_server(lambda s: key.append(s.key()) or f"sysvmq:{key[0]}",
                     lambda s: [f"sysvmq:{key[0]}"])


def test_join_without_server():
    s = Scope()
    try:
        rc, out, err = run_ipckit("chat", "--join",
                                  f"fifo:{s.path('nobody')}",
                                  data=b"hello\n", timeout=20)
        assert rc == 1, (rc, err)
        assert "--serve" in err and out == b"", err
        assert not os.path.exists(s.path("nobody.c2s"))
    finally:
        s.check()


def test_server_address_in_use():
    """A second server on the same FIFOs is refused; the first goes on."""
    s = Scope()
    addr = f"fifo:{s.path('chat')}"
    server, client = start(s, addr)
    try:
        rc, _, err = run_ipckit("chat", "--serve", addr, data=b"",
                                timeout=20)
        assert rc == 1 and "going on" in err, (rc, err)
        client.write("still here\n")
        server.wait_for("[CLIENT] still here\n")
        client.write("quit\n")
        assert client.finish() == 0 and server.finish() == 0
    finally:
        server.kill()
        client.kill()
        s.check()


def other_mechanism(addr, gone):
    s = Scope()
    addr = addr(s)
    server = Lines([IPCKIT, "chat", "--serve", "--ready-fd", "3", addr],
                   ready=True)
    client = Lines([IPCKIT, "chat", "--join", server.ready.split()[1]])
    try:
        client.write("hello over " + addr.split(":")[0] + "\n")
        server.wait_for("[CLIENT] hello over")
        server.write("caf\u00e9 \\ \x01\n")
        client.wait_for("[SERVER] caf\u00e9 \\\\ \\x01\n")
        server.write("quit\n")
        assert server.finish() == 0, server.err()
        assert client.finish() == 0, client.err()
        # the server's "quit" reaches the client even though the server
        # removes its queue as it ends (a System V queue's removal
        # destroys what it holds)
        assert client.out().endswith("[SERVER] quit\nQuit chatting\n"), \
            (client.out(), client.err())
        for p in gone(s):
            assert not os.path.exists(p), p
    finally:
        server.kill()
        client.kill()
        s.check()


def test_chat_over_unix_socket():
    other_mechanism(lambda s: f"unix:{s.path('chat.sock')}",
                    lambda s: [s.path("chat.sock")])


def test_chat_over_tcp():
    other_mechanism(lambda s: "tcp:127.0.0.1:0", lambda s: [])


def test_chat_over_posixmq_pair():
    other_mechanism(lambda s: f"posixmq:/{s.name('chat')}?msgsize=1024",
                    lambda s: [f"/dev/mqueue/{s.name('chat')}.c2s",
                               f"/dev/mqueue/{s.name('chat')}.s2c"])


def test_chat_over_one_sysv_queue():
    other_mechanism(lambda s: f"sysvmq:{s.key()}", lambda s: [])


def test_sysv_quit_reaches_a_slow_client():
    """The server removes its System V queue when it ends, and removal
    destroys what the queue holds: a server that says "quit" waits (up to
    a second) until the client has taken it.  The client is stopped while
    the server quits, so without that wait it finds the queue gone."""
    s = Scope()
    addr = f"sysvmq:{s.key()}"
    server = Lines([IPCKIT, "chat", "--serve", "--ready-fd", "3", addr],
                   ready=True)
    client = Lines([IPCKIT, "chat", "--join", server.ready.split()[1]])
    try:
        client.write("hello\n")
        server.wait_for("[CLIENT] hello")
        os.kill(client.p.pid, signal.SIGSTOP)
        try:
            server.write("quit\n")
            time.sleep(0.3)
        finally:
            os.kill(client.p.pid, signal.SIGCONT)
        assert server.finish() == 0, server.err()
        assert client.finish() == 0, client.err()
        assert client.out().endswith("[SERVER] quit\nQuit chatting\n"), \
            (client.out(), client.err())
    finally:
        server.kill()
        client.kill()
        s.check()


def test_terminal_prompt_and_ctrl_c():
    """On a terminal the server shows its prompt, prints the client's
    line over it, and Ctrl-C typed there (SIGINT from the terminal)
    ends both sides."""
    s = Scope()
    addr = f"fifo:{s.path('chat')}"
    master, slave = pty.openpty()

    def ctty():
        os.setsid()
        import fcntl
        import termios
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    import subprocess
    server = subprocess.Popen([IPCKIT, "chat", "--serve", addr],
                              stdin=slave, stdout=slave, stderr=slave,
                              preexec_fn=ctty)
    os.close(slave)
    client = None
    screen = b""

    def wait_screen(text, seconds=20):
        nonlocal screen
        import select
        d = harness.Deadline(seconds)
        while text not in screen:
            r, _, _ = select.select([master], [], [], d.left())
            if not r:
                raise AssertionError(f"no {text!r} on the terminal: "
                                     f"{screen!r}")
            try:
                screen += os.read(master, 4096)
            except OSError:  # EIO: the terminal closed
                raise AssertionError(f"terminal closed: {screen!r}")

    try:
        wait_screen(b"[SERVER] ")  # after the FIFOs are made
        client = Lines([IPCKIT, "chat", "--join", addr])
        client.write("hello\n")
        wait_screen(b"[CLIENT] hello")
        os.write(master, b"\x03")  # Ctrl-C, through the terminal
        assert server.wait(timeout=20) == 0
        assert client.finish() == 0, client.err()
        assert "Quit chatting" in client.out(), client.out()
        assert not any(os.path.exists(p) for p in fifo_paths(s))
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)
        if client:
            client.kill()
        os.close(master)
        s.check()


def test_usage_errors():
    for args in (["chat"], ["chat", "--serve", "--join"],
                 ["chat", "--join", "a:1", "b:2"],
                 ["chat", "--serve", "--timeout", "x"],
                 ["chat", "--serve", "nosuch:addr"]):
        rc, out, err = run_ipckit(*args, data=b"", timeout=20)
        assert rc == 2 and err.count("\n") == 1, (args, rc, err)


if __name__ == "__main__":
    harness.run([test_seed_transcript_quit_from_server,
                 test_quit_from_client,
                 test_ctrl_c_of_server,
                 test_ctrl_c_of_client,
                 test_sigkilled_client_and_end_of_input,
                 test_sigkilled_server_over_fifos,
                 test_sigkilled_server_over_one_sysv_queue,
                 test_join_without_server,
                 test_server_address_in_use,
                 test_chat_over_unix_socket,
                 test_chat_over_tcp,
                 test_chat_over_posixmq_pair,
                 test_chat_over_one_sysv_queue,
                 test_sysv_quit_reaches_a_slow_client,
                 test_terminal_prompt_and_ctrl_c,
                 test_usage_errors], time_limit=60)
