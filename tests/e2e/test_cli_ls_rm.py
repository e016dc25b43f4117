#!/usr/bin/env python3
"""test_cli_ls_rm.py - `ipckit ls` and `ipckit rm` against real objects
left by real processes.

Scope: this machine may hold other people's objects (stale ones too), so
every test names its objects with a fresh token or key, passes --match
patterns for exactly those to `ls` and `rm --stale`, asserts only about
them, and runs ipckit with XDG_RUNTIME_DIR set to its own temporary
directory, so that ipckit's index of creators (FIFOs, sockets, queues) is
private to the test.  Each test removes what it made and checks that
ipcs, /dev/shm and /dev/mqueue hold none of its objects (not that they
are unchanged: other tests and benchmarks run beside this one).
"""
import ctypes
import json
import mmap
import os
import shutil
import signal
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Proc, TempDir, fresh_key, fresh_name  # noqa: E402

NOBODY = 65534
# Small POSIX queues: RLIMIT_MSGQUEUE is shared with whatever else root
# runs on this machine.
SMALL = "?maxmsg=4&msgsize=256"
JSON_FIELDS = {"kind", "address", "state", "key", "id", "owner", "uid",
               "mode", "bytes", "messages", "attaches", "nsems", "users",
               "listening", "creator", "last", "doubtful"}


class Scope:
    """A test's objects: a token in every name, a SysV key, a private
    index directory, and the --match patterns naming exactly those."""

    def __init__(self, tag):
        self.td = TempDir()
        self.token = fresh_name(tag)
        self.key = fresh_key()
        self.env = {"XDG_RUNTIME_DIR": self.td.path}
        self.before = harness.ipc_snapshot()

    def sysvmq(self):
        return f"sysvmq:0x{self.key:08x}"

    def posixmq(self, suffix=""):
        return f"posixmq:/{self.token}{suffix}"

    def path(self, suffix):
        return self.td.join(f"{self.token}.{suffix}")

    def match(self):
        return ["--match", f"*{self.token}*", "--match",
                f"sysv*:0x{self.key:08x}"]

    def ipckit(self, *args, **kw):
        return harness.ipckit(*args, env=self.env, **kw)

    def ls(self, *args):
        cp = self.ipckit("ls", "--json", *args, *self.match())
        assert cp.returncode == 0, cp.stderr
        objs = json.loads(cp.stdout)
        for o in objs:
            assert JSON_FIELDS <= set(o), f"fields missing: {o}"
        return {o["address"]: o for o in objs}

    def close(self, procs=()):
        for p in procs:
            p.kill()
        # Whatever a failed test left: by address only, never --stale.
        left = self.ls()
        if left:
            self.ipckit("rm", "--force", *left)
        self.td.cleanup()
        # Other engineers' tests and benchmarks make objects meanwhile:
        # only ours must be gone (harness.ipc_snapshot() sees them all).
        new = harness.ipc_snapshot() - self.before
        ours = {o for o in new if self.token in o[1]}
        for kind in ("msg", "shm", "sem"):
            with open(f"/proc/sysvipc/{kind}", encoding="ascii") as f:
                next(f)
                ours |= {(kind, line.split()[1]) for line in f
                         if int(line.split()[0]) & 0xffffffff == self.key}
        assert not ours, f"left behind by {self.token}: {sorted(ours)}"


def start_recv(scope, address):
    return Proc([harness.IPCKIT, "recv", "--ready-fd", "3", address],
                ready=True, env=scope.env)


def five_objects(scope):
    """What ipckit recv makes of five mechanisms: their ls addresses and
    the addresses recv was given."""
    shown = {
        scope.sysvmq(): scope.sysvmq(),
        scope.posixmq(): scope.posixmq() + SMALL,
        f"shm:{scope.token}": f"shm:{scope.token}",
        "fifo:" + scope.path("fifo"): "fifo:" + scope.path("fifo"),
        "unix:" + scope.path("sock"): "listen:unix:" + scope.path("sock"),
    }
    return shown


def exists(address, key=None):
    """Does the object still exist, asked of the kernel directly?"""
    scheme, rest = address.split(":", 1)
    if scheme == "sysvmq":
        with open("/proc/sysvipc/msg", encoding="ascii") as f:
            next(f)
            return any(int(line.split()[0]) & 0xffffffff == key
                       for line in f)
    if scheme == "posixmq":
        return os.path.exists("/dev/mqueue" + rest)
    if scheme == "shm":
        return os.path.exists("/dev/shm/ipk-shm." + rest)
    return os.path.lexists(rest)


def test_stale_after_sigkill():
    """Objects of killed processes: ls --stale lists exactly them, rm
    --stale --dry-run keeps them, rm --stale removes them."""
    s = Scope("stale")
    procs = []
    try:
        objs = five_objects(s)
        procs = [start_recv(s, a) for a in objs.values()]
        live = s.ls()
        assert set(live) == set(objs), live
        for addr, o in live.items():
            # The kernel shows no holders of a SysV queue: its creator
            # lives, so it is idle; the others are held open or bound.
            want = "idle" if addr.startswith("sysvmq:") else "in use"
            assert o["state"] == want, (addr, o)
            assert o["creator"] is None or o["creator"]["alive"], o
        assert live[s.sysvmq()]["creator"]["pid"] == procs[0].pid
        assert live[s.sysvmq()]["mode"] == "0600"
        assert live[s.posixmq()]["users"][0]["pid"] == \
            procs[1].pid
        assert live["unix:" + s.path("sock")]["listening"] is True
        for p in procs:
            p.signal(signal.SIGKILL)
            p.wait()
        # A lister (another `ipckit ls`) opens and maps a ring read-only
        # for a moment: such a hold is no use, the ring stays stale.
        ring = "/dev/shm/ipk-shm." + f"shm:{s.token}".split(":", 1)[1]
        with open(ring, "rb") as fh, \
                mmap.mmap(fh.fileno(), 0, prot=mmap.PROT_READ):
            stale = s.ls("--stale")
        assert set(stale) == set(objs), sorted(stale)
        for addr, o in stale.items():
            assert o["state"] == "stale" and o["users"] == [], o
            assert o["creator"]["alive"] is False, o
            assert o["uid"] == os.geteuid(), o
        pids = {stale[a]["creator"]["pid"] for a in objs}
        assert pids == {p.pid for p in procs}, pids
        table = s.ipckit("ls", "--stale", *s.match(), check=True).stdout
        assert table.splitlines()[0].split()[:2] == ["STATE", "KIND"]
        assert len(table.splitlines()) == 1 + len(objs), table

        cp = s.ipckit("rm", "--stale", "--dry-run", *s.match())
        assert cp.returncode == 0, cp.stderr
        assert sorted(cp.stdout.splitlines()) == sorted(
            f"would remove {a} (stale)" for a in objs), cp.stdout
        assert all(exists(a, s.key) for a in objs)

        cp = s.ipckit("rm", "--stale", *s.match())
        assert cp.returncode == 0, cp.stderr
        assert sorted(cp.stdout.splitlines()) == sorted(
            f"removed {a}" for a in objs), cp.stdout
        assert not any(exists(a, s.key) for a in objs)
        assert s.ls() == {}
    finally:
        s.close(procs)


def test_in_use_refused_without_force():
    s = Scope("busy")
    procs = []
    try:
        objs = five_objects(s)
        procs = [start_recv(s, a) for a in objs.values()]
        cp = s.ipckit("rm", *objs)
        assert cp.returncode == 1, (cp.returncode, cp.stderr)
        assert cp.stdout == "", cp.stdout
        lines = cp.stderr.splitlines()
        assert len(lines) == len(objs), cp.stderr
        for addr, line in zip(objs, lines):
            assert line.startswith(f"ipckit rm: {addr}: "), line
            assert "--force" in line, line
        assert all(exists(a, s.key) for a in objs)
        # One failure among successes still exits 1, and removes the rest.
        missing = s.posixmq("-none")
        cp = s.ipckit("rm", "--force", *objs, missing)
        assert cp.returncode == 1, cp.stderr
        assert sorted(cp.stdout.splitlines()) == sorted(
            f"removed {a}" for a in objs), cp.stdout
        assert cp.stderr.splitlines() == [
            f"ipckit rm: {missing}: No such file or directory: "
            "no such object"], cp.stderr
        assert not any(exists(a, s.key) for a in objs)
    finally:
        s.close(procs)


def read_start(pid):
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19])


def test_pid_reuse_counts_as_gone():
    """An index entry naming a live pid with another start time is a
    creator that has gone (its pid was given to someone else); a creator
    note does not pass to a later queue of the same name."""
    s = Scope("reuse")
    try:
        fifo = s.path("fifo")
        os.mkfifo(fifo, 0o600)
        index = os.path.join(s.td.path, "ipckit")
        os.mkdir(index, 0o700)
        entry = os.path.join(index, "fifo-00000000000e2e01")
        me, start = os.getpid(), read_start(os.getpid())
        for recorded, want in ((start, "idle"), (start + 1, "stale"),
                               (start - 1, "stale")):
            with open(entry, "w", encoding="utf-8") as f:
                f.write(f"{fifo}\n{me} {recorded}\n")
            o = s.ls()["fifo:" + fifo]
            assert o["state"] == want, (recorded, o)
            assert o["creator"] == {"pid": me, "alive": want == "idle"}, o
        # A queue's creator note is for that queue only: one made later
        # under the same name by another program has no known creator.
        s.ipckit("send", s.posixmq() + SMALL, "x", check=True)
        assert s.ls()[s.posixmq()]["state"] == "stale"
        name = ("/" + s.token).encode()
        assert libc.mq_unlink(name) == 0
        mqd = libc.mq_open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600,
                           None)
        assert mqd >= 0, os.strerror(ctypes.get_errno())
        try:
            o = s.ls()[s.posixmq()]
            assert o["creator"] is None, o
            assert o["state"] == "in use", o  # this process has it open
        finally:
            libc.mq_close(mqd)
        o = s.ls()[s.posixmq()]
        assert o["creator"] is None and o["state"] == "unused", o
        # Idle is not in use: rm takes it without --force.
        with open(entry, "w", encoding="utf-8") as f:
            f.write(f"{fifo}\n{me} {start}\n")
        cp = s.ipckit("rm", "fifo:" + fifo, s.posixmq())
        assert cp.returncode == 0 and not os.path.lexists(fifo), cp.stderr
        assert not exists(s.posixmq())
    finally:
        s.close()


def as_nobody():
    os.setgroups([])
    os.setgid(NOBODY)
    os.setuid(NOBODY)


def nobody_ipckit(*args):
    env = dict(os.environ)
    env.pop("XDG_RUNTIME_DIR", None)
    prog = os.path.abspath(shutil.which(harness.IPCKIT) or harness.IPCKIT)
    return subprocess.run([prog, *args], capture_output=True,
                          text=True, timeout=30, env=env, cwd="/",
                          preexec_fn=as_nobody)


def test_other_users_objects():
    """rm refuses another user's objects (root's, run as nobody) with one
    line naming the address and owner; --user filters; root may remove
    nobody's."""
    if os.geteuid() != 0:
        print("# not root: cannot make objects of another user; only "
              "the refusal of root-owned names is checked", flush=True)
    s = Scope("owner")
    try:
        mine = [s.sysvmq(), s.posixmq()]
        s.ipckit("send", s.sysvmq(), "hello", check=True)
        s.ipckit("send", s.posixmq() + SMALL, "hello", check=True)
        if os.geteuid() != 0:
            return
        theirs = s.posixmq("-nobody")
        cp = nobody_ipckit("send", theirs + SMALL, "x")
        assert cp.returncode == 0, cp.stderr

        cp = nobody_ipckit("rm", *mine)
        assert cp.returncode == 1, cp
        assert cp.stderr.splitlines() == [
            f"ipckit rm: {a}: Operation not permitted: owned by root "
            "(uid 0)" for a in mine], cp.stderr
        assert all(exists(a, s.key) for a in mine)
        # --stale as nobody takes nobody's stale objects only.
        cp = nobody_ipckit("rm", "--stale", *s.match())
        assert cp.returncode == 0, cp
        assert cp.stdout == f"removed {theirs}\n", cp.stdout
        assert all(exists(a, s.key) for a in mine)
        assert not exists(theirs)
        cp = nobody_ipckit("send", theirs + SMALL, "x")
        assert cp.returncode == 0, cp.stderr

        assert set(s.ls("--user", "root")) == set(mine)
        assert set(s.ls("--user", str(NOBODY))) == {theirs}
        o = s.ls("--user", "nobody")[theirs]
        assert o["uid"] == NOBODY and o["messages"] == 1, o
        assert set(s.ls()) == set(mine) | {theirs}
        cp = s.ipckit("ls", "--user", "no-such-user-" + s.token)
        assert cp.returncode == 2 and cp.stderr.count("\n") >= 1, cp

        # Our check passes (nobody owns the FIFO) but the kernel refuses
        # (root's directory): still one line naming the address.
        os.chmod(s.td.path, 0o755)
        fifo = s.path("fifo")
        os.mkfifo(fifo, 0o600)
        os.chown(fifo, NOBODY, NOBODY)
        cp = nobody_ipckit("rm", "fifo:" + fifo)
        assert cp.returncode == 1, cp
        assert cp.stderr == (f"ipckit rm: fifo:{fifo}: Permission "
                             "denied\n"), cp.stderr
        assert os.path.lexists(fifo)
        os.unlink(fifo)

        cp = s.ipckit("rm", theirs, *mine)
        assert cp.returncode == 0, cp.stderr
        assert s.ls() == {}
    finally:
        s.close()


libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]
libc.shmdt.argtypes = [ctypes.c_void_p]
libc.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint,
                         ctypes.c_void_p]
libc.mq_unlink.argtypes = [ctypes.c_char_p]
IPC_CREAT, IPC_EXCL = 0o1000, 0o2000


def test_sysv_shm_and_sem_and_counts():
    """Attaches, nsems, queued bytes and messages as the kernel has them;
    sysvshm:/sysvsem: removed by key, an attached segment only with
    --force."""
    s = Scope("count")
    addr = None
    try:
        shmid = libc.shmget(s.key, 8192, IPC_CREAT | IPC_EXCL | 0o640)
        assert shmid >= 0, os.strerror(ctypes.get_errno())
        semid = libc.semget(s.key, 3, IPC_CREAT | IPC_EXCL | 0o600)
        assert semid >= 0, os.strerror(ctypes.get_errno())
        addr = libc.shmat(shmid, None, 0)
        assert addr not in (None, ctypes.c_void_p(-1).value)
        for a in (s.sysvmq(), s.posixmq() + SMALL):
            s.ipckit("send", a, "hello", "world!", check=True)
        objs = s.ls()
        shm, sem = f"sysvshm:0x{s.key:08x}", f"sysvsem:0x{s.key:08x}"
        assert objs[shm]["attaches"] == 1 and objs[shm]["bytes"] == 8192
        assert objs[shm]["mode"] == "0640" and objs[shm]["id"] == shmid
        assert objs[shm]["state"] == "in use", objs[shm]
        assert [u["pid"] for u in objs[shm]["users"]] == [os.getpid()]
        assert objs[sem]["nsems"] == 3 and objs[sem]["id"] == semid
        assert objs[s.sysvmq()]["messages"] == 2
        assert objs[s.sysvmq()]["bytes"] == len("hello") + len("world!")
        pmq = objs[s.posixmq()]
        assert pmq["messages"] == 2 and pmq["bytes"] == 11, pmq

        cp = s.ipckit("rm", shm)
        assert cp.returncode == 1 and "--force" in cp.stderr, cp
        assert libc.shmdt(ctypes.c_void_p(addr)) == 0
        addr = None
        # Detached, its creator (this process) alive: idle, removable.
        objs = s.ls()
        assert objs[shm]["state"] == "idle", objs[shm]
        cp = s.ipckit("rm", shm, sem, s.sysvmq(), s.posixmq())
        assert cp.returncode == 0, cp.stderr
        assert s.ls() == {}
    finally:
        if addr is not None:
            libc.shmdt(ctypes.c_void_p(addr))
        s.close()


def test_usage_and_bad_addresses():
    s = Scope("usage")
    try:
        for args, code in ((["rm"], 2), (["rm", "--stale", "fifo:/x"], 2),
                           (["rm", "--match", "x", "fifo:/x"], 2),
                           (["ls", "extra"], 2),
                           (["rm", "nosuchscheme:x"], 2),
                           (["rm", "sysvmq:notakey"], 2),
                           (["rm", "tcp:127.0.0.1:9"], 1),
                           (["rm", "fifo:" + s.path("none")], 1)):
            cp = s.ipckit(*args)
            assert cp.returncode == code, (args, cp.returncode, cp.stderr)
            assert cp.stderr.startswith(f"ipckit {args[0]}: "), cp.stderr
        cp = s.ipckit("rm", "fifo:" + s.path("none"))
        assert cp.stderr == (f"ipckit rm: fifo:{s.path('none')}: No such "
                             "file or directory: no such file\n"), cp.stderr
    finally:
        s.close()


if __name__ == "__main__":
    harness.run([test_stale_after_sigkill, test_in_use_refused_without_force,
                 test_pid_reuse_counts_as_gone, test_other_users_objects,
                 test_sysv_shm_and_sem_and_counts,
                 test_usage_and_bad_addresses], time_limit=60)
