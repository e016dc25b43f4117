"""harness.py - what the end-to-end tests share (standard library only).

- run(tests): a tiny TAP runner; each test is a function, a failed assert
  or an exception fails that test only, and every test has a time limit;
- Proc: a real process started with --ready-fd, waited for by its
  "ready ..." line (never by sleeping), killed and reaped at the end;
- fresh names for IPC objects, a private temporary directory;
- ipc_snapshot(): System V objects, /dev/shm and /dev/mqueue, so a test can
  prove it left nothing behind.
"""
import os
import secrets
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback

IPCKIT = os.environ.get("IPCKIT", "ipckit")
SOURCE_ROOT = os.environ.get("IPCKIT_SOURCE_ROOT",
                             os.path.dirname(os.path.dirname(
                                 os.path.dirname(os.path.abspath(__file__)))))
BUILD_ROOT = os.environ.get("IPCKIT_BUILD_ROOT", "")


class Deadline:
    """A point in monotonic time; every wait in the tests is bounded."""

    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return max(0.0, self.end - time.monotonic())

    def expired(self):
        return time.monotonic() >= self.end


def fresh_name(tag="x"):
    """A name unique on this machine for this run: ipk-test-<pid>-<rand>-tag."""
    return f"ipk-test-{os.getpid()}-{secrets.token_hex(4)}-{tag}"


def fresh_key():
    """A random System V key well above hand-typed ones."""
    return 0x10000000 + secrets.randbelow(0x0fffffff)


class TempDir:
    def __init__(self):
        self.path = tempfile.mkdtemp(prefix="ipk-e2e-")

    def join(self, *parts):
        return os.path.join(self.path, *parts)

    def cleanup(self):
        shutil.rmtree(self.path, ignore_errors=True)


class Proc:
    """A child process.  With ready=True, a pipe is passed as fd 3 and
    '--ready-fd 3' must be in argv; start() returns after the first line
    the child writes there (kept in .ready)."""

    def __init__(self, argv, ready=False, stdin=subprocess.DEVNULL,
                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=None,
                 cwd=None, timeout=20):
        self.argv = [str(a) for a in argv]
        self.ready = None
        rfd = wfd = None
        kwargs = {}
        if ready:
            rfd, wfd = os.pipe()
            os.set_inheritable(wfd, True)
            kwargs["pass_fds"] = (3,)
            # Arrange for the pipe to be fd 3 in the child.
            kwargs["preexec_fn"] = lambda: (os.dup2(wfd, 3),
                                            os.set_inheritable(3, True))
        full_env = dict(os.environ)
        if env:
            full_env.update(env)
        self.p = subprocess.Popen(self.argv, stdin=stdin, stdout=stdout,
                                  stderr=stderr, env=full_env, cwd=cwd,
                                  **kwargs)
        if ready:
            os.close(wfd)
            try:
                self.ready = self._read_line(rfd, timeout)
            finally:
                os.close(rfd)
            if self.ready is None:
                self.kill()
                raise AssertionError(
                    f"{self.argv[:3]} did not report ready within "
                    f"{timeout}s; stderr: {self.stderr_text()}")

    def _read_line(self, fd, timeout):
        d = Deadline(timeout)
        buf = b""
        while not d.expired():
            r, _, _ = select.select([fd], [], [], d.left())
            if not r:
                break
            chunk = os.read(fd, 256)
            if not chunk:
                break
            buf += chunk
            if b"\n" in buf:
                return buf.split(b"\n", 1)[0].decode()
        return None

    @property
    def pid(self):
        return self.p.pid

    def wait(self, timeout=20):
        """The exit code (negative signal number if killed); raises
        subprocess.TimeoutExpired when it does not end in time."""
        return self.p.wait(timeout=timeout)

    def signal(self, sig):
        if self.p.poll() is None:
            self.p.send_signal(sig)

    def kill(self):
        if self.p.poll() is None:
            self.p.kill()
        try:
            self.p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass

    def stderr_text(self):
        if self.p.stderr is None or self.p.poll() is None:
            return ""
        try:
            return self.p.stderr.read().decode(errors="replace")
        except ValueError:
            return ""


def ipckit(*args, input=None, timeout=30, check=False, env=None):
    """Run the ipckit program to completion; returns CompletedProcess
    with text stdout/stderr."""
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    cp = subprocess.run([IPCKIT] + [str(a) for a in args], input=input,
                        capture_output=True, timeout=timeout, env=full_env,
                        text=isinstance(input, str) or input is None)
    if check and cp.returncode != 0:
        raise AssertionError(f"ipckit {' '.join(map(str, args))} exited "
                             f"{cp.returncode}: {cp.stderr}")
    return cp


def ipc_snapshot():
    """The set of System V ids and POSIX names on this machine now."""
    snap = set()
    for kind in ("msg", "shm", "sem"):
        try:
            with open(f"/proc/sysvipc/{kind}", encoding="ascii") as f:
                next(f)
                for line in f:
                    fields = line.split()
                    snap.add((kind, fields[1]))
        except OSError:
            pass
    for d in ("/dev/shm", "/dev/mqueue"):
        try:
            for name in os.listdir(d):
                snap.add((d, name))
        except OSError:
            pass
    return snap


def assert_no_new_ipc(before, what=""):
    after = ipc_snapshot()
    new = after - before
    assert not new, f"IPC objects left behind {what}: {sorted(new)}"


def run(tests, time_limit=120):
    """Run test functions, print TAP, exit 0 only if all passed.  A test
    that runs past time_limit seconds is failed by SIGALRM."""
    print(f"1..{len(tests)}", flush=True)
    failures = 0

    def on_alarm(signum, frame):
        raise TimeoutError(f"test exceeded {time_limit}s")

    signal.signal(signal.SIGALRM, on_alarm)
    for i, t in enumerate(tests, 1):
        name = t.__name__
        signal.alarm(time_limit)
        t0 = time.monotonic()
        try:
            t()
            print(f"ok {i} - {name}", flush=True)
        except BaseException as e:  # noqa: BLE001 - report and go on
            if isinstance(e, KeyboardInterrupt):
                raise
            failures += 1
            print(f"not ok {i} - {name}", flush=True)
            for line in traceback.format_exc().splitlines():
                print(f"# {line}", flush=True)
        finally:
            signal.alarm(0)
            # how long each took, so a slow step shows before it fails
            print(f"# {name}: {time.monotonic() - t0:.1f} s", flush=True)
    sys.exit(1 if failures else 0)
