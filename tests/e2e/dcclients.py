"""dcclients.py - drivers for Direct Connect hubs and clients in tests and
benchmarks (standard library only).

- Uhub: Debian's uhub on 127.0.0.1 with a generated config, MOTD and a
  SQLite users database in a private temp dir (a reference hub only).
- BatchPeer: our `ipckit peer --batch`, commands on stdin, one event per
  line on stdout, waited for with deadlines.
- Eiskalt: eiskaltdcpp-daemon with its own config dir (random CID per
  instance, a favourite-hub entry carrying the password) driven over
  JSON-RPC.
- Ncdc: ncdc in a private tmux server (-L socket) with its own config dir,
  driven with send-keys and read with capture-pane.

Every class takes the hub address as a parameter (adc://HOST:PORT), so the
same tests run against any hub, ours included.  Each stop() kills only the
processes it started and removes its temp dir.
"""
import json
import os
import queue
import re
import secrets
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Deadline, Proc  # noqa: E402

IPCKIT = os.environ.get("IPCKIT", "ipckit")


def end_process(proc):
    """SIGTERM, then SIGKILL after 10 s, and reap: only our own child."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def _ephemeral_low():
    """The lowest port the kernel hands out to connect() and bind(0)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def free_port():
    """A port free on 127.0.0.1 now for both TCP and UDP, for a real
    client to listen on later.  It is picked below the kernel's ephemeral
    range: a port the kernel chose for bind(0) may be handed to some
    connect() as its source port before the client binds it, and the
    client's listen then fails (EADDRINUSE)."""
    low = max(_ephemeral_low(), 10001)
    for _ in range(200):
        port = secrets.randbelow(low - 10000) + 10000
        try:
            for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
                with socket.socket(socket.AF_INET, kind) as s:
                    s.bind(("127.0.0.1", port))
        except OSError:
            continue
        return port
    raise AssertionError("no free port below the ephemeral range")


def wait_port(port, timeout=10.0, host="127.0.0.1"):
    """Wait until something accepts on host:port (bounded polling of a
    real connect, never a blind sleep)."""
    d = Deadline(timeout)
    while not d.expired():
        try:
            with socket.create_connection((host, port), timeout=d.left()):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on {host}:{port} after {timeout}s")


def wait_until(pred, timeout, what, step=0.1):
    d = Deadline(timeout)
    while True:
        v = pred()
        if v:
            return v
        if d.expired():
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(step)


def tth(path):
    """The TTH root of a file, base32 (rhash, the reference)."""
    out = subprocess.run(["rhash", "--tth", "-p", "%{tth}", path],
                         check=True, capture_output=True, text=True,
                         timeout=120).stdout
    return out.strip().upper()


def _tmpdir(tag):
    return tempfile.mkdtemp(prefix=f"ipk-dc-{tag}-")


class Uhub:
    """Debian's uhub on 127.0.0.1:<free port>.  users: {nick: password}
    registered in its SQLite database; reg_only refuses guests."""

    def __init__(self, users=None, reg_only=False, name="Test hub",
                 description="A hub for tests", motd="Welcome to the test hub",
                 tls=False, roles=None):
        """roles: {nick: "op" or "admin"}; other accounts are users."""
        self.dir = _tmpdir("uhub")
        self.port = free_port()
        self.url = f"adc://127.0.0.1:{self.port}"
        tls_conf = ""
        self.keyprint = None
        if tls:
            # A fresh self-signed certificate; the keyprint pins it.
            cert = os.path.join(self.dir, "cert.pem")
            key = os.path.join(self.dir, "key.pem")
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048",
                            "-nodes", "-keyout", key, "-out", cert,
                            "-days", "2", "-subj", "/CN=localhost"],
                           check=True, capture_output=True, timeout=60)
            der = subprocess.run(["openssl", "x509", "-in", cert, "-outform",
                                  "der"], check=True, capture_output=True,
                                 timeout=20).stdout
            import base64
            import hashlib
            self.keyprint = "SHA256/" + base64.b32encode(
                hashlib.sha256(der).digest()).decode().rstrip("=")
            self.url = f"adcs://127.0.0.1:{self.port}"
            tls_conf = ("tls_enable=yes\ntls_require=yes\n"
                        f"tls_certificate={cert}\ntls_private_key={key}\n")
        db = os.path.join(self.dir, "users.db")
        subprocess.run(["uhub-passwd", db, "create"], check=True,
                       capture_output=True, timeout=20)
        for nick, pw in (users or {}).items():
            role = (roles or {}).get(nick, "user")
            subprocess.run(["uhub-passwd", db, "add", nick, pw, role],
                           check=True, capture_output=True, timeout=20)
        with open(os.path.join(self.dir, "motd.txt"), "w") as f:
            f.write(motd + "\n")
        with open(os.path.join(self.dir, "rules.txt"), "w") as f:
            f.write("Be nice.\n")
        with open(os.path.join(self.dir, "plugins.conf"), "w") as f:
            f.write(f'plugin /usr/lib/uhub/mod_auth_sqlite.so "file={db}"\n')
            f.write('plugin /usr/lib/uhub/mod_welcome.so '
                    f'"motd={self.dir}/motd.txt rules={self.dir}/rules.txt"\n')
        conf = os.path.join(self.dir, "uhub.conf")
        with open(conf, "w") as f:
            f.write(f"server_port={self.port}\n"
                    "server_bind_addr=127.0.0.1\n"
                    f"hub_name={name}\n"
                    f"hub_description={description}\n"
                    f"registered_users_only={1 if reg_only else 0}\n"
                    f"file_plugins={self.dir}/plugins.conf\n" + tls_conf)
        self.proc = subprocess.Popen(["uhub", "-c", conf],
                                     stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        try:
            wait_port(self.port)
        except AssertionError:
            self.stop()
            raise

    def stop(self):
        end_process(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


class IpckitHub:
    """Our own hub, `ipckit hub`, with the same face as Uhub: started with
    --listen 127.0.0.1:0 --ready-fd (the kernel picks the port, the hub
    says which), accounts added with `ipckit hub user add` (password on
    stdin) into a database in a private temp dir.  The hub's stderr log
    is kept in that dir (log_text()); tls=True makes it TLS-only with a
    certificate it generates itself, whose keyprint it logs."""

    def __init__(self, users=None, reg_only=False, name="Test hub",
                 description="A hub for tests", motd="Welcome to the test hub",
                 tls=False, roles=None, settings=None):
        self.dir = _tmpdir("ipkhub")
        self.db = os.path.join(self.dir, "hub.db")
        self.conf = os.path.join(self.dir, "hub.conf")
        self.log_path = os.path.join(self.dir, "hub.log")
        self.proc = self._log = None
        try:
            for nick, pw in (users or {}).items():
                role = (roles or {}).get(nick, "user")
                subprocess.run([IPCKIT, "hub", "user", "add", nick,
                                "--role", role, "--db", self.db],
                               input=(pw + "\n").encode(), check=True,
                               capture_output=True, timeout=30)
            conf = {"listen": "127.0.0.1:0", "db": self.db,
                    "hub_name": name, "hub_description": description,
                    "motd": motd,
                    "registered_only": "true" if reg_only else "false"}
            if tls:
                conf["tls_require"] = "true"
            conf.update(settings or {})
            with open(self.conf, "w") as f:
                for k, v in conf.items():
                    v = str(v).replace("\\", "\\\\").replace('"', '\\"')
                    f.write(f'{k} = "{v}"\n')
            self._log = open(self.log_path, "ab")
            self.proc = Proc([IPCKIT, "hub", "--config", self.conf,
                              "--ready-fd", "3"], ready=True,
                             stdout=self._log, stderr=self._log, timeout=30)
            ready = self.proc.ready.split()
            if len(ready) != 2 or ready[0] != "ready":
                raise AssertionError(f"ipckit hub said {self.proc.ready!r}")
            self.url = ready[1]
            self.port = int(self.url.rsplit(":", 1)[1])
            self.keyprint = None
            if tls:
                self.keyprint = wait_until(self._logged_keyprint, 10,
                                           "the hub to log its keyprint")
                self.url = self.url.replace("adc://", "adcs://", 1)
        except BaseException:
            self.stop()
            raise

    def _logged_keyprint(self):
        for line in self.log_text().splitlines():
            if "?kp=" in line:
                return line.split("?kp=", 1)[1].split()[0]
        return None

    def log_text(self):
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        """SIGTERM: the hub tells its users and must exit 0 (a sanitizer
        build exits otherwise on a leak or an error): an AssertionError
        with the log's end if not.  Returns the status, None if the hub
        never started; idempotent."""
        rc = None
        if self.proc:
            end_process(self.proc.p)
            rc = self.proc.p.returncode
        log = self.log_text()
        if self._log:
            self._log.close()
            self._log = None
        shutil.rmtree(self.dir, ignore_errors=True)
        if rc not in (0, None):
            tail = "\n".join(log.splitlines()[-40:])
            raise AssertionError(f"ipckit hub exited {rc}:\n{tail}")
        return rc


HUBS = {"uhub": Uhub, "ipckit": IpckitHub}


def hub_class(argv=None):
    """The hub a parameterised test runs against: its first argument
    ("uhub" or "ipckit"), else $IPK_TEST_HUB, else uhub."""
    argv = sys.argv if argv is None else argv
    name = argv[1] if len(argv) > 1 else os.environ.get("IPK_TEST_HUB",
                                                         "uhub")
    if name not in HUBS:
        raise SystemExit(f"usage: {argv[0]} [{'|'.join(HUBS)}]")
    return HUBS[name]


class BatchPeer:
    """`ipckit peer --batch`: send(cmd) writes a command line, expect()
    waits for an event line.  Every line seen is kept in .lines."""

    def __init__(self, hub_url, nick, password=None, listen=None,
                 shares=(), slots=None, state_dir=None, downloads=None,
                 extra=(), env=None, wait_login=True, timeout=20):
        self.dir = _tmpdir(f"peer-{nick}")
        self.state_dir = state_dir or os.path.join(self.dir, "state")
        self.downloads = downloads or os.path.join(self.dir, "downloads")
        argv = [IPCKIT, "peer", "--batch", "-n", nick,
                "--state-dir", self.state_dir, "--downloads", self.downloads]
        full_env = dict(os.environ)
        if password is not None:
            full_env["IPK_TEST_PW"] = password
            argv += ["--password-env", "IPK_TEST_PW"]
        if listen:
            argv += ["-l", listen]
        for s in shares:
            argv += ["-s", s]
        if slots:
            argv += ["--slots", str(slots)]
        argv += list(extra) + [hub_url]
        if env:
            full_env.update(env)
        self.nick = nick
        self.lines = []
        self._q = queue.Queue()
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=full_env)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._pos = 0
        if wait_login:
            try:
                self.expect("login ", timeout=timeout)
            except BaseException:
                self.stop()  # nobody else holds us yet: clean up here
                raise
            self._pos = 0  # later expects also see what came before

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\n")
            self._q.put(line)
        self._q.put(None)

    def _pump(self, timeout):
        try:
            line = self._q.get(timeout=timeout)
        except queue.Empty:
            return False
        if line is None:
            self._q.put(None)
            return None
        self.lines.append(line)
        return True

    def expect(self, prefix, timeout=20, pred=None):
        """The next line (after earlier expects) starting with prefix and
        satisfying pred; earlier non-matching lines are skipped."""
        d = Deadline(timeout)
        while True:
            while self._pos < len(self.lines):
                line = self.lines[self._pos]
                self._pos += 1
                if line.startswith(prefix) and (pred is None or pred(line)):
                    return line
            if d.expired():
                raise AssertionError(
                    f"{self.nick}: no '{prefix}' within {timeout}s; "
                    f"seen: {self.lines[-15:]}")
            r = self._pump(min(0.2, d.left()) or 0.01)
            if r is None and self._pos >= len(self.lines):
                raise AssertionError(
                    f"{self.nick}: exited (rc {self.proc.poll()}) without "
                    f"'{prefix}'; seen: {self.lines[-15:]}; stderr: "
                    f"{self.stderr()}")

    def seen(self, prefix):
        """Lines seen so far (non-blocking) starting with prefix."""
        while self._pump(0):
            pass
        return [line for line in self.lines if line.startswith(prefix)]

    def mark(self):
        """Later expects only look at lines after this point."""
        while self._pump(0):
            pass
        self._pos = len(self.lines)

    def send(self, cmd):
        self.proc.stdin.write((cmd + "\n").encode())
        self.proc.stdin.flush()

    def quit(self, timeout=15):
        if self.proc.poll() is None:
            try:
                self.send("/exit")
            except (BrokenPipeError, OSError):
                pass
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def stderr(self):
        if self.proc.poll() is None:
            return ""
        try:
            return self.proc.stderr.read().decode(errors="replace")
        except (ValueError, OSError):
            return ""

    def stop(self):
        self.quit()
        for f in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            try:
                f.close()
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


def unescape(s):
    """Undo batch mode's escapes: \\s space, \\n newline, \\\\ backslash."""
    out, i = [], 0
    while i < len(s):
        if s[i] == "\\" and i + 1 < len(s):
            out.append({"s": " ", "n": "\n", "r": "\r"}.get(s[i + 1],
                                                         s[i + 1]))
            i += 2
        else:
            out.append(s[i])
            i += 1
    return "".join(out)


def fields(line, n):
    """A batch event line as n fields (the event name first); the last
    field takes the rest of the line, spaces included."""
    parts = line.split(" ", n - 1)
    return [unescape(p) for p in parts]


def _b32(data):
    import base64
    return base64.b32encode(data).decode().rstrip("=")


class Eiskalt:
    """eiskaltdcpp-daemon with a private config dir and JSON-RPC port.

    The login password can only come from a favourite-hub entry, so one
    is written for hub_url; a random PID (DC++ calls the setting "CID")
    keeps two daemons started in the same second apart.  active: listen
    on free TCP/UDP ports on 127.0.0.1, else passive."""

    def __init__(self, hub_url, nick, password=None, active=True,
                 share=None, description="eiskalt test"):
        self.dir = _tmpdir(f"eiskalt-{nick}")
        self.conf = os.path.join(self.dir, "conf")
        self.local = os.path.join(self.dir, "local")
        self.downloads = os.path.join(self.dir, "downloads")
        for d in (self.conf, self.local, self.downloads,
                  os.path.join(self.dir, "incomplete")):
            os.makedirs(d)
        self.hub_url = hub_url
        self.nick = nick
        self.rpc_port = free_port()
        self.in_port = free_port()
        self.udp_port = free_port()
        settings = {
            "Nick": nick, "Description": description,
            "CID": _b32(secrets.token_bytes(24)),
            "UseDHT": 0, "HashingStartDelay": 0,
            "BindAddress": "127.0.0.1",
            "InPort": self.in_port, "UDPPort": self.udp_port,
            "TLSPort": free_port(), "DHTPort": free_port(),
            "IncomingConnections": 0 if active else 3,
            "ExternalIp": "127.0.0.1", "NoIpOverride": 0,
            "DownloadDirectory": self.downloads + "/",
            "TempDownloadDirectory": os.path.join(self.dir, "incomplete") + "/",
            "LogPrivateChat": 1, "LogDirectory": os.path.join(self.local, "Logs") + "/",
            "Slots": 3, "AutoSearch": 1, "AutoSearchTime": 1,
            "UseTLS": 0, "RequireTLS": 0, "SegmentedDL": 1,
            "AllowUntrustedHubs": 1, "AllowUntrustedClients": 1,
            "FollowLinks": 0, "ShareHidden": 1,
        }
        with open(os.path.join(self.conf, "DCPlusPlus.xml"), "w") as f:
            f.write('<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n'
                    "<DCPlusPlus>\n<Settings>\n")
            for k, v in settings.items():
                t = "int" if isinstance(v, int) else "string"
                f.write(f'<{k} type="{t}">{_xml(str(v))}</{k}>\n')
            f.write("</Settings>\n</DCPlusPlus>\n")
        with open(os.path.join(self.conf, "Favorites.xml"), "w") as f:
            f.write('<?xml version="1.0" encoding="utf-8" standalone="yes"?>\n'
                    "<Favorites>\n<Hubs>\n"
                    f'<Hub Name="test" Connect="0" Description="" '
                    f'Nick="{_xml(nick)}" Password="{_xml(password or "")}" '
                    f'Server="{_xml(hub_url)}" UserDescription="" '
                    'Encoding="UTF-8"/>\n'
                    "</Hubs>\n<Users/>\n<UserCommands/>\n<FavoriteDirs/>\n"
                    "</Favorites>\n")
        self.proc = subprocess.Popen(
            ["eiskaltdcpp-daemon", "-c", self.conf, "-l", self.local,
             "-P", str(self.rpc_port), "-L", "127.0.0.1"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, cwd=self.dir)
        try:
            wait_port(self.rpc_port, timeout=20)
            if share:
                self.call("share.add", directory=share.rstrip("/") + "/",
                          virtname=os.path.basename(share.rstrip("/")))
                self.call("share.refresh")
            self.call("hub.add", huburl=hub_url, enc="UTF-8")
        except Exception:
            self.stop()
            raise

    def call(self, method, **params):
        body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": method,
                           "params": params}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.rpc_port}/", data=body,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=20) as r:
            reply = json.loads(r.read().decode("utf-8", "replace"))
        if "error" in reply and reply["error"]:
            raise AssertionError(f"{method}: {reply['error']}")
        return reply.get("result")

    def users(self):
        r = self.call("hub.getusers", huburl=self.hub_url, separator=";")
        return [u for u in (r or "").split(";") if u]

    def wait_user(self, nick, timeout=30):
        wait_until(lambda: nick in self.users(), timeout,
                   f"{nick} in eiskalt's user list")

    def wait_gone(self, nick, timeout=30):
        """Wait until nick has left eiskalt's user list (the hub's QUI)."""
        wait_until(lambda: nick not in self.users(), timeout,
                   f"{nick} gone from eiskalt's user list")

    def chat(self):
        r = self.call("hub.getchat", huburl=self.hub_url, separator="\n")
        return r or ""

    def say(self, text):
        self.call("hub.say", huburl=self.hub_url, message=text)

    def wait_chat(self, text, timeout=30):
        wait_until(lambda: text in self.chat(), timeout,
                   f"'{text}' in {self.nick}'s main chat")

    def pm(self, nick, text):
        self.call("hub.pm", huburl=self.hub_url, nick=nick, message=text)

    def wait_pm(self, nick, text, timeout=30):
        """Private messages are not readable over RPC: the PM log."""
        wait_until(lambda: text in self.pm_log(), timeout,
                   f"'{text}' in {self.nick}'s PM log")

    def pm_log(self):
        """Text of every private-chat log file written so far."""
        out = []
        for root, _, files in os.walk(os.path.join(self.local, "Logs")):
            for name in files:
                try:
                    with open(os.path.join(root, name), errors="replace") as f:
                        out.append(f.read())
                except OSError:
                    pass
        return "\n".join(out)

    def hashed(self):
        """True once hashing is idle."""
        st = self.call("hash.status")
        if isinstance(st, dict):
            return int(st.get("filesleft", st.get("filesLeft", 0)) or 0) == 0
        return True

    def search(self, text, tth=False):
        self.call("search.clear", huburl="")
        self.call("search.send", searchstring=text,
                  searchtype=8 if tth else 0, sizemode=0, sizetype=0,
                  size=0, huburls="")

    def results(self):
        r = self.call("search.getresults", huburl="")
        return r or []

    def wait_result(self, name, timeout=30):
        """The first search result whose file name ends in name (the
        search itself is sent by search())."""
        def found():
            for r in self.results():
                if str(r.get("Filename", "")).endswith(name):
                    return r
            return None
        return wait_until(found, timeout,
                          f"'{name}' in {self.nick}'s search results",
                          step=0.3)

    def download(self, name, size, tth):
        """Queue a file and let a TTH search add the sources."""
        self.call("queue.add", directory=self.downloads + "/",
                  filename=name, size=size, tth=tth)
        self.search(tth, tth=True)

    def wait_download(self, name, size, timeout=60):
        """The finished file's path (it is moved into the downloads
        folder whole, once complete)."""
        path = os.path.join(self.downloads, name)
        wait_until(lambda: os.path.isfile(path) and
                   os.path.getsize(path) == size, timeout,
                   f"{self.nick} to finish downloading {name}")
        return path

    # Eiskalt's list of a user is current as soon as it has hashed.
    list_is_current = True

    def browse(self, nick, expect):
        """Fetch nick's files.xml.bz2, open it, and find expect (a top
        directory's name) in it."""
        self.call("list.download", huburl=self.hub_url, nick=nick)

        def listed():
            lists = self.call("list.local") or ""
            for name in str(lists).replace(";", " ").split():
                if name.startswith(nick + "."):
                    self.call("list.open", filelist=name)
                    out = self.call("list.lsdir", filelist=name,
                                    directory="")
                    return expect in json.dumps(out)
            return False
        wait_until(listed, 30, f"{self.nick} reading {nick}'s file list",
                   step=0.5)

    def wait_left(self, nick, timeout=30):
        """The others' view of a quit: nick leaves the user list."""
        self.wait_gone(nick, timeout)

    def quit(self):
        """Leave the hub the way a user does: the daemon stops."""
        if getattr(self, "proc", None) and self.proc.poll() is None:
            try:
                self.call("daemon.stop")
                self.proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - fall back to a signal
                pass
            end_process(self.proc)

    def stop(self):
        self.quit()
        shutil.rmtree(self.dir, ignore_errors=True)


def _xml(s):
    return (s.replace("&", "&amp;").replace("<", "&lt;")
            .replace(">", "&gt;").replace('"', "&quot;"))


class Term:
    """A program in a real terminal: a tmux server of its own, on a socket
    in a temp dir (-S), so nothing of it outlives stop(); type() and key()
    send keys, screen() reads what is shown."""

    def __init__(self, argv, env=None, width=120, height=40):
        """env: variables set for the program (tmux's -e)."""
        self.tmux_dir = tempfile.mkdtemp(prefix="ipk-tmux-")
        self.sock = os.path.join(self.tmux_dir, "sock")
        setenv = [a for k, v in (env or {}).items()
                  for a in ("-e", f"{k}={v}")]
        try:
            self.tmux("new-session", "-d", "-s", "m", "-x", str(width),
                      "-y", str(height), *setenv, shlex.join(argv))
        except BaseException:
            self.stop()
            raise

    def tmux(self, *args, check=True):
        return subprocess.run(["tmux", "-S", self.sock, "-f", "/dev/null"]
                              + list(args), check=check, capture_output=True,
                              text=True, timeout=20)

    def type(self, text):
        self.tmux("send-keys", "-t", "m", "-l", text)

    def key(self, *keys):
        self.tmux("send-keys", "-t", "m", *keys)

    def screen(self):
        return self.tmux("capture-pane", "-p", "-t", "m", check=False).stdout

    def wait(self, text, timeout=20):
        return wait_until(lambda: text in self.screen(), timeout,
                          f"'{text}' on the screen")

    def last_line(self):
        lines = [line for line in self.screen().splitlines() if line.strip()]
        return lines[-1] if lines else ""

    def exited(self):
        return self.tmux("has-session", "-t", "m",
                         check=False).returncode != 0

    def pids(self):
        return self.tmux("list-panes", "-a", "-F", "#{pane_pid}",
                         check=False).stdout.split()

    def wait_exit(self, pids, timeout):
        for pid in pids:
            wait_until(lambda: not os.path.exists(f"/proc/{pid}"), timeout,
                       f"pid {pid} to exit", step=0.05)

    def stop(self):
        """Kill our tmux server (and so the program), wait until the
        program is gone, remove the socket's dir."""
        pids = self.pids()
        self.tmux("kill-server", check=False)
        try:
            self.wait_exit(pids, 10)
        except AssertionError:
            pass
        shutil.rmtree(self.tmux_dir, ignore_errors=True)


class Ncdc(Term):
    """ncdc 1.23 in a Term (200x50) with its own session dir; commands
    are typed (type() ends with Enter), the screen is read.  active:
    listen on a free port on 127.0.0.1."""

    # ncdc rewrites its own file list about a minute after hashing, too
    # slow for a test.
    list_is_current = False

    def __init__(self, hub_url, nick, password=None, active=True,
                 share=None):
        """hub_url None: open no hub (the test types its own /open)."""
        self.dir = _tmpdir(f"ncdc-{nick}")
        self.session = os.path.join(self.dir, "session")
        self.downloads = os.path.join(self.dir, "dl")
        os.makedirs(self.session)
        os.makedirs(self.downloads)
        self.nick = nick
        self.hub_url = hub_url
        self.port = free_port()
        try:
            Term.__init__(self, ["ncdc", "-n", "-c", self.session],
                          width=200, height=50)
            self.wait_screen("ncdc", timeout=20)
            for cmd in (f"/set nick {nick}",
                        "/set local_address 127.0.0.1",
                        "/set tls_policy disabled",
                        f"/set download_dir {self.downloads}",
                        "/set active_ip 127.0.0.1",
                        "/set show_joinquit true",
                        f"/set active_port {self.port}",
                        f"/set active {'true' if active else 'false'}"):
                self.type(cmd)
            if share:
                self.type(f"/share {os.path.basename(share.rstrip('/'))} "
                          f"{share}")
            if hub_url:
                self.type(f"/open -n test {hub_url}")
                if password is not None:
                    self.type(f"/hset password {password}")
                self.type("/connect")
        except BaseException:
            self.stop()
            raise

    def type(self, text, enter=True):
        Term.type(self, text)
        if enter:
            self.key("Enter")

    def wait_screen(self, text, timeout=30):
        return wait_until(lambda: text in self.screen(), timeout,
                          f"'{text}' on ncdc's screen")

    def hub_tab(self):
        """Show the hub's tab (tab 2: 1 is ncdc's main tab).  Only tabs
        with an input line take commands: in a search or file-list tab
        the letters of a command would be key bindings."""
        self.key("M-2")
        self.wait_screen(f"{self.nick} @ ", timeout=10)

    def close_tab(self):
        """Close the tab shown (Alt+c) and go back to the hub's."""
        self.key("M-c")
        self.hub_tab()

    def say(self, text):
        """A line in the main chat.  The hub's echo on ncdc's own screen
        proves it went out; a line typed while ncdc was busy is typed
        again."""
        self.hub_tab()
        for attempt in range(3):
            self.type(text)
            try:
                self.wait_screen(f"<{self.nick}> {text}", timeout=10)
                return
            except AssertionError:
                if attempt == 2:
                    raise

    def wait_chat(self, text, timeout=30):
        self.hub_tab()
        self.wait_screen(text, timeout)

    def pm(self, nick, text):
        """/msg opens the conversation's tab "~nick"; it is closed again."""
        self.hub_tab()
        self.type(f"/msg {nick} {text}")
        self.wait_screen(f"<{self.nick}> {text}", timeout=10)
        self.close_tab()

    def wait_left(self, nick, timeout=30):
        """The others' view of a quit (show_joinquit is on)."""
        self.wait_chat(f"--< {nick} has quit.", timeout)

    def quit(self, timeout=20):
        """/quit, as a user leaves; wait until ncdc has exited."""
        pids = self.pids()
        self.hub_tab()
        self.type("/quit")
        self.wait_exit(pids, timeout)

    def wait_pm(self, nick, text, timeout=30):
        """A message from nick opens a tab "~nick": show it (/msg NICK
        without text), read it, close it."""
        self.hub_tab()
        self.wait_screen(f"~{nick}", timeout)
        self.type(f"/msg {nick}")
        self.wait_screen(text, timeout)
        self.close_tab()

    def download(self, name, size, tth):
        """Search by TTH, download the first result (key d), close the
        search tab."""
        self.hub_tab()
        self.type(f"/search -tth {tth}")
        self.wait_screen(name, timeout=30)
        self.key("d")
        self.wait_screen(f"{name} added to queue", timeout=10)
        self.close_tab()

    def wait_download(self, name, size, timeout=60):
        path = os.path.join(self.downloads, name)
        wait_until(lambda: os.path.isfile(path) and
                   os.path.getsize(path) == size, timeout,
                   f"{self.nick} to finish downloading {name}")
        return path

    def browse(self, nick, expect):
        """Fetch nick's files.xml.bz2; its tab "/nick" opens in the
        background once it is in: show it, see expect (a top directory)
        in it, close it."""
        self.hub_tab()
        self.type(f"/browse {nick}")
        tab = re.compile(r"\b(\d)[!:]/" + re.escape(nick) + r"\b")
        n = wait_until(lambda: tab.search(self.screen()), 30,
                       f"the tab of {nick}'s file list").group(1)
        self.key(f"M-{n}")
        self.wait_screen("/" + expect, timeout=30)  # a directory: /name
        self.close_tab()

    def stop(self):
        """Term's stop, then the session dir (ncdc writes there while it
        exits, so only once it is gone)."""
        Term.stop(self)
        shutil.rmtree(self.dir, ignore_errors=True)
